/* LOGISTIC int8; same integers as TFLM reference_integer_ops::Logistic (gemmlowp logistic). */
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

#define INPUT_INTEGER_BITS 4
#define OUTPUT_INTEGER_BITS 8

/* gemmlowp logistic() of a Q4 value, Q0 result. */
static int32_t logistic_q4(int32_t a) {
    if (a == 0) {
        return 1 << 30; /* one half */
    }
    const int32_t abs_a = a > 0 ? a : -a;
    /* logistic_on_positive_values: 1 / (1 + exp(-|a|)) */
    const int32_t result_if_positive =
        hb_one_over_one_plus_x_for_x_in_0_1(hb_exp_on_negative_values(-abs_a, INPUT_INTEGER_BITS));
    return a > 0 ? result_if_positive : INT32_MAX - result_if_positive;
}

void hb_logistic_s8(const hb_logistic_params_t *p, const int8_t *input, int8_t *output) {
    for (int32_t i = 0; i < p->size; i++) {
        const int32_t x = (int32_t)input[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (x >= p->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t input_q4 =
                hb_mul_by_quantized_multiplier(x, p->input_multiplier, p->input_left_shift);
            const int32_t output_q0 = logistic_q4(input_q4);
            int32_t out = hb_rounding_divide_by_pot(output_q0, 31 - OUTPUT_INTEGER_BITS);
            output[i] = (int8_t)hb_clamp_i32(out - 128, INT8_MIN, INT8_MAX);
        }
    }
}
