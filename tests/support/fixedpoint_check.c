/*
 * Checks hb_fixedpoint.h's fast forms against the textbook gemmlowp definitions on edge cases
 * and a few million pseudo-random operands. Prints the number of mismatches; exit 1 if any.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hb_fixedpoint.h"

/* gemmlowp SaturatingRoundingDoublingHighMul, as written there. */
static int32_t reference_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * b;
    const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, halves away from zero. */
static int32_t reference_rounding_divide(int32_t x, int exponent) {
    if (exponent == 0) {
        return x;
    }
    const int64_t magnitude = x < 0 ? -(int64_t)x : (int64_t)x;
    const int64_t rounded = (magnitude + ((int64_t)1 << (exponent - 1))) >> exponent;
    return (int32_t)(x < 0 ? -rounded : rounded);
}

int main(int argc, char **argv) {
    const long iterations = argc > 1 ? atol(argv[1]) : 1000000;
    static const int32_t edges[] = {0, 1, -1, 2, -2, 3, -3, INT32_MIN, INT32_MAX, INT32_MIN + 1,
                                    1 << 30, -(1 << 30), (1 << 30) + 1, -(1 << 30) - 1};
    const int n_edges = (int)(sizeof edges / sizeof edges[0]);
    long mismatches = 0;
    for (int i = 0; i < n_edges; i++) {
        for (int j = 0; j < n_edges; j++) {
            mismatches += reference_srdhm(edges[i], edges[j]) != hb_srdhm(edges[i], edges[j]);
        }
        for (int e = 0; e < 31; e++) {
            mismatches += reference_rounding_divide(edges[i], e) !=
                          hb_rounding_divide_by_pot(edges[i], e);
        }
    }
    uint64_t s = 88172645463325252ull; /* xorshift64 */
    for (long i = 0; i < iterations; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        int32_t a = (int32_t)s, b = (int32_t)(s >> 32);
        if (i & 1) {
            a >>= (s >> 40) & 31; /* small magnitudes too */
        }
        if (i & 2) {
            b >>= (s >> 45) & 31;
        }
        mismatches += reference_srdhm(a, b) != hb_srdhm(a, b);
        const int e = (int)((s >> 50) & 31) % 31;
        mismatches += reference_rounding_divide(a, e) != hb_rounding_divide_by_pot(a, e);
        /* The narrow requantization over the domain the compiler proves for it: |x| < 2^30,
         * a multiplier from QuantizeMultiplier (2^30 <= m < 2^31, or 0), shift <= -1. */
        const int32_t x = a >> 2 > -(1 << 30) ? a >> 2 : -(1 << 30) + 1;
        const int32_t m = (i % 97 == 0) ? 0 : (int32_t)(0x40000000u | ((uint32_t)b & 0x3FFFFFFFu));
        const int32_t shift = -1 - (int32_t)((s >> 20) % 31);
        mismatches += hb_mul_by_quantized_multiplier(x, m, shift) !=
                      hb_mul_by_quantized_multiplier_narrow(x, m, shift);
    }
    for (int i = 0; i < n_edges; i++) {
        const int32_t x = edges[i] >= (1 << 30) ? (1 << 30) - 1
                          : edges[i] <= -(1 << 30) ? -(1 << 30) + 1 : edges[i];
        for (int shift = -31; shift <= -1; shift++) {
            mismatches += hb_mul_by_quantized_multiplier(x, INT32_MAX, shift) !=
                          hb_mul_by_quantized_multiplier_narrow(x, INT32_MAX, shift);
            mismatches += hb_mul_by_quantized_multiplier(x, 1 << 30, shift) !=
                          hb_mul_by_quantized_multiplier_narrow(x, 1 << 30, shift);
        }
    }
    printf("mismatches: %ld\n", mismatches);
    return mismatches != 0;
}
