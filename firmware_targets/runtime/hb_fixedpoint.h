/*
 * Fixed-point helpers shared by all int8 kernels, written to give exactly the same integers
 * as TFLite Micro's reference kernels (gemmlowp fixedpoint.h and tflite common.h, in the
 * default double-rounding build). Every kernel takes its rounding from here, so that there is
 * one copy of each rule.
 *
 * Notation: a "Qk" value is a gemmlowp FixedPoint<int32_t, k>: k integer bits, 31-k fraction bits.
 */
#ifndef HB_FIXEDPOINT_H
#define HB_FIXEDPOINT_H

#include <stdint.h>

#include "hb_target.h"

static inline int32_t hb_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t hb_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t hb_clamp_i32(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31), saturating the one overflow.
 *
 * gemmlowp computes trunc((ab + nudge) / 2^31) with nudge = 2^30 for ab >= 0 and 1 - 2^30
 * otherwise. For ab < 0, with k = -ab, that is -floor((k - 1 + 2^30) / 2^31), and
 * floor((ab + 2^30) / 2^31) = -ceil((k - 2^30) / 2^31) = -floor((k + 2^30 - 1) / 2^31): the
 * same integer. So one add and an arithmetic shift (floor) give gemmlowp's result without the
 * sign-dependent nudge and the truncating division (about half the instructions on Cortex-M). */
static inline int32_t hb_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    /* >> on a negative int64_t is an arithmetic shift with every compiler hilbench supports
     * (GCC and Clang document it); the tests pin this against the interpreter. */
    return (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, rounding half away from zero. */
static inline int32_t hb_rounding_divide_by_pot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* tflite MultiplyByQuantizedMultiplier (double rounding): x * multiplier * 2^shift.
 *
 * SaturatingRoundingDoublingHighMul only saturates when both operands are INT32_MIN. The
 * multipliers here come from QuantizeMultiplier (0 <= m < 2^31) or, for LOGISTIC, may wrap to
 * INT32_MIN while x stays far from INT32_MIN (an int8 difference times a small power of two),
 * so the check is left out of this hot path without changing any result. */
static inline int32_t hb_mul_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    const int64_t product = (int64_t)(int32_t)((uint32_t)x << left_shift) * multiplier;
    const int32_t high = (int32_t)((product + ((int64_t)1 << 30)) >> 31); /* as hb_srdhm */
    return hb_rounding_divide_by_pot(high, right_shift);
}

/* round(a * b / 2^32), ties up: SMMULR on DSP cores. */
static inline int32_t hb_mul_high_rounded(int32_t a, int32_t b) {
#if defined(HB_DOT_USE_DSP) && defined(__ARM_FEATURE_DSP) && !defined(HB_EMULATE_DSP)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* hb_mul_by_quantized_multiplier for the case the model compiler proves ahead of time for a
 * layer (hilbench/compile/quantization.py, narrow_requantization): |x| < 2^30 and shift <= -1
 * (a right shift). Same integers, about half the instructions:
 *   - SaturatingRoundingDoublingHighMul(x, m) = floor((x*m + 2^30) / 2^31)
 *     = floor((2x*m + 2^31) / 2^32), one SMMULR of 2x (which fits in 32 bits) by m;
 *   - RoundingDivideByPOT(h, e), half away from zero, = floor((h - [h < 0] + 2^(e-1)) / 2^e)
 *     = (((h - [h < 0]) >> (e - 1)) + 1) >> 1, since floor((floor(y) + 1) / 2) =
 *     floor((y + 1) / 2) for y = (h - [h < 0]) / 2^(e-1); and e - 1 = ~shift. */
static inline int32_t hb_mul_by_quantized_multiplier_narrow(int32_t x, int32_t multiplier,
                                                            int32_t shift) {
    int32_t high = hb_mul_high_rounded((int32_t)((uint32_t)x << 1), multiplier);
    high = (high + (high >> 31)) >> ~shift;
    return (high + 1) >> 1;
}

/* Requantize an int32 accumulator of CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED to int8:
 * scale, add the output zero point, clamp to the fused activation's range. */
static inline int8_t hb_requantize_s8(int32_t acc, int32_t multiplier, int32_t shift, int narrow,
                                      int32_t output_offset, int32_t act_min, int32_t act_max) {
    const int32_t scaled = narrow ? hb_mul_by_quantized_multiplier_narrow(acc, multiplier, shift)
                                  : hb_mul_by_quantized_multiplier(acc, multiplier, shift);
    return (int8_t)hb_clamp_i32(scaled + output_offset, act_min, act_max);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent (saturating left shift). */
static inline int32_t hb_saturating_shift_left(int32_t x, int exponent) {
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* gemmlowp RoundingHalfSum. */
static inline int32_t hb_rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0 in, Q0 out (Newton-Raphson in Q2). */
static inline int32_t hb_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    const int32_t half_denominator = hb_rounding_half_sum(a, INT32_MAX);
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t one_q2 = 1 << 29;
    int32_t x = constant_48_over_17 + hb_srdhm(half_denominator, constant_neg_32_over_17);
    for (int i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = hb_srdhm(half_denominator, x);
        const int32_t one_minus_half_denominator_times_x = one_q2 - half_denominator_times_x;
        /* Q2*Q2 gives Q4; rescale back to Q2 = saturating shift left by 2. */
        x = x + hb_saturating_shift_left(hb_srdhm(x, one_minus_half_denominator_times_x), 2);
    }
    /* ExactMulByPot<-1> reinterprets Q2 as Q1; Rescale<0> shifts left by 1, saturating. */
    return hb_saturating_shift_left(x, 1);
}

/* gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl: Q0 in, Q0 out. */
static inline int32_t hb_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
    const int32_t constant_term = 1895147668;
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = hb_srdhm(x, x);
    const int32_t x3 = hb_srdhm(x2, x);
    const int32_t x4 = hb_srdhm(x2, x2);
    const int32_t x4_over_4 = hb_rounding_divide_by_pot(x4, 2);
    const int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 =
        hb_rounding_divide_by_pot(hb_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + hb_srdhm(constant_term, x + x4_over_24_plus_x3_over_6_plus_x2_over_2);
}

/* gemmlowp exp_on_negative_values for a Q(integer_bits) input; Q0 result. */
static inline int32_t hb_exp_on_negative_values(int32_t a, int integer_bits) {
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    /* Rescale<0> from Q(integer_bits) to Q0: saturating shift left by integer_bits. */
    int32_t result = hb_exp_on_interval_between_negative_one_quarter_and_0_excl(
        integer_bits > 0 ? hb_saturating_shift_left(a_mod_quarter_minus_one_quarter, integer_bits)
                         : a_mod_quarter_minus_one_quarter);
    const int32_t remainder = a_mod_quarter_minus_one_quarter - a;

    /* Barrel shifter: multiply by exp(-2^k) for each set bit of the remainder. */
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535,   720401,     242};
    for (int k = 0; k < 7; k++) {
        const int exponent = k - 2;
        if (integer_bits > exponent) {
            const int shift_amount = fractional_bits + exponent;
            if (remainder & ((int32_t)1 << shift_amount)) {
                result = hb_srdhm(result, multipliers[k]);
            }
        }
    }
    if (integer_bits > 5) {
        const int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) {
            result = 0;
        }
    }
    if (a == 0) {
        result = INT32_MAX;
    }
    return result;
}

/* Number of leading zero bits of a 32-bit value (32 for zero). */
static inline int hb_count_leading_zeros(uint32_t x) {
    if (x == 0) {
        return 32;
    }
#if defined(__GNUC__)
    return __builtin_clz(x);
#else
    int n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

#endif
