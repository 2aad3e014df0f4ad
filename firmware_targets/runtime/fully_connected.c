/* FULLY_CONNECTED int8; same integers as TFLM reference_integer_ops::FullyConnected(PerChannel). */
#include "hb_dot.h"
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

void hb_fully_connected_s8(const hb_fully_connected_params_t *p, const int8_t *input,
                           const int8_t *filter, int8_t *output) {
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *input_row = input + (size_t)b * p->accum_depth;
        for (int32_t out_c = 0; out_c < p->output_depth; out_c++) {
            const int8_t *filter_row = filter + (size_t)out_c * p->accum_depth;
            /* (filter + fo) * (input + io) = (filter + fo) * input + io * sum(filter + fo);
             * the second term is in folded_bias, exact in 32-bit wrap-around arithmetic. */
            int32_t acc = p->filter_offset == 0
                              ? hb_dot_s8(filter_row, input_row, p->accum_depth)
                              : hb_dot_s8_offset(input_row, filter_row, p->accum_depth,
                                                 p->filter_offset);
            acc = (int32_t)((uint32_t)acc + (uint32_t)p->folded_bias[out_c]);
            const int32_t channel = p->per_channel ? out_c : 0;
            acc = hb_mul_by_quantized_multiplier(acc, p->multiplier[channel], p->shift[channel]);
            acc += p->output_offset;
            *output++ = (int8_t)hb_clamp_i32(acc, p->act_min, p->act_max);
        }
    }
}
