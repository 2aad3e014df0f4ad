/* MEAN int8 over any axes; same integers as TFLM reference_ops::QuantizedMeanOrSum. */
#include <string.h>

#include "hb_fixedpoint.h"
#include "hb_kernels.h"

void hb_mean_s8(const hb_mean_params_t *p, const int8_t *input, int8_t *output, int32_t *scratch) {
    memset(scratch, 0, (size_t)p->output_size * sizeof(int32_t));
    /* Output strides over the input's dims (0 on reduced axes, keep_dims or not). */
    int32_t out_strides[HB_MAX_BROADCAST_DIMS];
    int32_t stride = 1;
    for (int32_t d = p->rank - 1; d >= 0; d--) {
        out_strides[d] = p->reduced[d] ? 0 : stride;
        stride *= p->reduced[d] ? 1 : p->input_dims[d];
    }
    int32_t index[HB_MAX_BROADCAST_DIMS] = {0};
    int32_t input_size = 1;
    for (int32_t d = 0; d < p->rank; d++) {
        input_size *= p->input_dims[d];
    }
    size_t out_offset = 0;
    for (int32_t i = 0; i < input_size; i++) {
        scratch[out_offset] += input[i];
        for (int32_t d = p->rank - 1; d >= 0; d--) {
            index[d]++;
            out_offset += out_strides[d];
            if (index[d] < p->input_dims[d]) {
                break;
            }
            out_offset -= (size_t)out_strides[d] * p->input_dims[d];
            index[d] = 0;
        }
    }
    for (int32_t i = 0; i < p->output_size; i++) {
        const int32_t shifted_sum = (int32_t)((int64_t)scratch[i] -
                                              (int64_t)p->input_zero_point * p->num_elements_in_axis);
        const int32_t out = hb_mul_by_quantized_multiplier(shifted_sum, p->multiplier, p->shift) +
                            p->output_zero_point;
        output[i] = (int8_t)hb_clamp_i32(out, INT8_MIN, INT8_MAX);
    }
}
