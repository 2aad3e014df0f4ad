/* FULLY_CONNECTED int8; same integers as TFLM reference_integer_ops::FullyConnected(PerChannel). */
#include "hb_dot.h"
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

static inline int8_t finish(const hb_fully_connected_params_t *p, int32_t acc, int32_t out_c) {
    /* folded_bias = bias + input_offset * sum(filter row + filter_offset), exact in 32-bit
     * wrap-around arithmetic, so only (filter + filter_offset) * input is summed here. */
    acc = (int32_t)((uint32_t)acc + (uint32_t)p->folded_bias[out_c]);
    const int32_t channel = p->per_channel ? out_c : 0;
    return hb_requantize_s8(acc, p->multiplier[channel], p->shift[channel], p->requantize,
                            p->output_offset, p->act_min, p->act_max);
}

void hb_fully_connected_s8(const hb_fully_connected_params_t *p, const int8_t *input,
                           const int8_t *filter, int8_t *output, uint32_t *unpacked_input) {
    const int32_t depth = p->accum_depth;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *input_row = input + (size_t)b * depth;
        int32_t out_c = 0;
#if defined(HB_DOT_USE_DSP)
        if (p->filter_offset == 0 && unpacked_input != NULL) {
            /* The compiler laid the filter out in blocks of four rows (hb_dot.h); the input row
             * is sign-extended once, then serves every block. */
            const int32_t groups = (depth + 3) / 4;
            const uint32_t *block = (const uint32_t *)(const void *)filter;
            hb_unpack_s8(input_row, depth, unpacked_input);
            const int32_t block_words = (p->filter_int16 ? 8 : 4) * groups;
            for (; out_c < p->output_depth; out_c += 4, block += block_words) {
                int32_t acc[4] = {0, 0, 0, 0};
                hb_dot_1x4_packed(unpacked_input, block, groups, p->filter_int16, acc);
                for (int32_t j = 0; j < 4 && out_c + j < p->output_depth; j++) {
                    output[out_c + j] = finish(p, acc[j], out_c + j);
                }
            }
        }
#else
        (void)unpacked_input;
#endif
        if (p->filter_offset == 0) {
            /* Several output rows per pass share the loads of the input row: four in plain C,
             * two with SMLAD (more would spill registers on Cortex-M4). */
#if !defined(HB_DOT_USE_DSP)
            for (; out_c + 4 <= p->output_depth; out_c += 4) {
                int32_t acc[4] = {0, 0, 0, 0};
                hb_dot4_s8(input_row, filter + (size_t)out_c * depth, depth, depth, acc);
                for (int32_t j = 0; j < 4; j++) {
                    output[out_c + j] = finish(p, acc[j], out_c + j);
                }
            }
#endif
            for (; out_c + 2 <= p->output_depth; out_c += 2) {
                const int8_t *f0 = filter + (size_t)out_c * depth;
                int32_t acc0 = 0, acc1 = 0;
                hb_dot2_s8(input_row, f0, f0 + depth, depth, &acc0, &acc1);
                output[out_c] = finish(p, acc0, out_c);
                output[out_c + 1] = finish(p, acc1, out_c + 1);
            }
        }
        for (; out_c < p->output_depth; out_c++) {
            const int8_t *filter_row = filter + (size_t)out_c * depth;
            const int32_t acc = p->filter_offset == 0
                                    ? hb_dot_s8(filter_row, input_row, depth)
                                    : hb_dot_s8_offset(input_row, filter_row, depth,
                                                       p->filter_offset);
            output[out_c] = finish(p, acc, out_c);
        }
        output += p->output_depth;
    }
}
