/* PAD / PADV2: copy the input into the middle of the output, fill the rest with pad_value. */
#include <string.h>

#include "hb_kernels.h"

void hb_pad_s8(const hb_pad_params_t *p, const int8_t *input, int8_t *output) {
    int32_t output_size = 1;
    for (int32_t d = 0; d < p->rank; d++) {
        output_size *= p->output_dims[d];
    }
    memset(output, (int8_t)p->pad_value, (size_t)output_size);
    /* Copy contiguous input rows (the last dim) to their place in the output. */
    const int32_t row = p->input_dims[p->rank - 1];
    int32_t rows = 1;
    for (int32_t d = 0; d < p->rank - 1; d++) {
        rows *= p->input_dims[d];
    }
    int32_t index[HB_MAX_BROADCAST_DIMS] = {0};
    for (int32_t r = 0; r < rows; r++) {
        size_t out_offset = 0;
        for (int32_t d = 0; d < p->rank; d++) {
            const int32_t i = d == p->rank - 1 ? 0 : index[d];
            out_offset = out_offset * (size_t)p->output_dims[d] + (size_t)(i + p->pad_before[d]);
        }
        memcpy(output + out_offset, input + (size_t)r * row, (size_t)row);
        for (int32_t d = p->rank - 2; d >= 0; d--) {
            if (++index[d] < p->input_dims[d]) {
                break;
            }
            index[d] = 0;
        }
    }
}
