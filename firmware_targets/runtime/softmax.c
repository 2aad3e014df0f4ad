/* SOFTMAX int8 -> int8/int16; same integers as TFLM reference_ops::Softmax (gemmlowp exp). */
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

static inline void store(void *out, int32_t index, int32_t value, int output_bits) {
    if (output_bits == 8) {
        ((int8_t *)out)[index] = (int8_t)value;
    } else {
        ((int16_t *)out)[index] = (int16_t)value;
    }
}

/* exp(input_diff * input scale * beta) in Q0.31, for input_diff = x - max(row) <= 0: the
 * exponent is rescaled to Q5.26 (SCALED_DIFF_INTEGER_BITS) first. */
static inline int32_t exp_of_diff(const hb_softmax_params_t *p, int32_t input_diff) {
    const int32_t scaled_diff = hb_srdhm(input_diff * (1 << p->input_left_shift),
                                         p->input_multiplier);
    return hb_exp_on_negative_values(scaled_diff, SCALED_DIFF_INTEGER_BITS);
}

/* Softmax of one row into an int8 (output_bits 8) or int16 (output_bits 16) row. */
static inline void softmax_row(const hb_softmax_params_t *p, const int8_t *in, void *out,
                               int output_bits) {
    int32_t max_in_row = INT8_MIN;
    for (int32_t c = 0; c < p->depth; c++) {
        max_in_row = hb_max_i32(max_in_row, in[c]);
    }
    int32_t sum_of_exps = 0; /* Q12 */
    for (int32_t c = 0; c < p->depth; c++) {
        const int32_t input_diff = (int32_t)in[c] - max_in_row;
        if (input_diff >= p->diff_min) {
            sum_of_exps += hb_rounding_divide_by_pot(exp_of_diff(p, input_diff),
                                                     ACCUMULATION_INTEGER_BITS);
        }
    }
    /* GetReciprocal */
    const int headroom_plus_one = hb_count_leading_zeros((uint32_t)sum_of_exps);
    const int num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
    const int32_t shifted_scale = hb_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
    const int32_t out_min = -(1 << (output_bits - 1));
    const int32_t out_max = (1 << (output_bits - 1)) - 1;
    for (int32_t c = 0; c < p->depth; c++) {
        const int32_t input_diff = (int32_t)in[c] - max_in_row;
        if (input_diff >= p->diff_min) {
            const int32_t exp_q0 = exp_of_diff(p, input_diff);
            const int32_t unsat = hb_rounding_divide_by_pot(
                hb_srdhm(shifted_scale, exp_q0), num_bits_over_unit + 31 - output_bits);
            store(out, c, hb_clamp_i32(unsat + out_min, out_min, out_max), output_bits);
        } else {
            store(out, c, out_min, output_bits);
        }
    }
}

void hb_softmax_s8(const hb_softmax_params_t *p, const int8_t *input, int8_t *output) {
    for (int32_t row = 0; row < p->outer_size; row++) {
        softmax_row(p, input + (size_t)row * p->depth, output + (size_t)row * p->depth, 8);
    }
}

void hb_softmax_s8_s16(const hb_softmax_params_t *p, const int8_t *input, int16_t *output) {
    for (int32_t row = 0; row < p->outer_size; row++) {
        softmax_row(p, input + (size_t)row * p->depth, output + (size_t)row * p->depth, 16);
    }
}
