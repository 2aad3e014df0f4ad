/*
 * The int8 dot products under CONV_2D and FULLY_CONNECTED, the hot loops of every model.
 *
 * Two implementations give the same integers (integer sums are exact in any order):
 *   - portable C, unrolled by four;
 *   - a DSP path for cores with the Armv7E-M DSP extension (Cortex-M4/M7/M33...): four int8
 *     pairs per iteration with SXTB16 (sign-extend two bytes to two halfwords) and SMLAD (two
 *     16x16 multiply-accumulates in one instruction), as CMSIS-NN does.
 * The DSP path is chosen when the compiler defines __ARM_FEATURE_DSP, unless the build defines
 * HB_PORTABLE_KERNELS. Defining HB_EMULATE_DSP runs the DSP path's logic on any host with the
 * two instructions written in C, which is how the tests check it without an Arm core.
 */
#ifndef HB_DOT_H
#define HB_DOT_H

#include <stdint.h>
#include <string.h>

#include "hb_target.h"

#if defined(HB_DOT_USE_DSP)
#if defined(__ARM_FEATURE_DSP) && !defined(HB_EMULATE_DSP)
static inline uint32_t hb_sxtb16(uint32_t x) {
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}
static inline uint32_t hb_sxtb16_ror8(uint32_t x) {
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
static inline int32_t hb_smlad(uint32_t x, uint32_t y, int32_t acc) {
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}
static inline int32_t hb_smlabb(uint32_t x, uint32_t y, int32_t acc) {
    int32_t r;
    __asm__("smlabb %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}
static inline int32_t hb_smlatt(uint32_t x, uint32_t y, int32_t acc) {
    int32_t r;
    __asm__("smlatt %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}
#else
/* C models of the instructions, for testing the DSP path on a host. */
static inline uint32_t hb_sxtb16(uint32_t x) {
    return ((uint32_t)(uint16_t)(int16_t)(int8_t)(x & 0xFF)) |
           ((uint32_t)(uint16_t)(int16_t)(int8_t)((x >> 16) & 0xFF) << 16);
}
static inline uint32_t hb_sxtb16_ror8(uint32_t x) {
    return hb_sxtb16((x >> 8) | (x << 24));
}
static inline int32_t hb_smlad(uint32_t x, uint32_t y, int32_t acc) {
    const int32_t lo = (int32_t)(int16_t)(x & 0xFFFF) * (int32_t)(int16_t)(y & 0xFFFF);
    const int32_t hi = (int32_t)(int16_t)(x >> 16) * (int32_t)(int16_t)(y >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
}
static inline int32_t hb_smlabb(uint32_t x, uint32_t y, int32_t acc) {
    return (int32_t)((uint32_t)acc +
                     (uint32_t)((int32_t)(int16_t)(x & 0xFFFF) * (int32_t)(int16_t)(y & 0xFFFF)));
}
static inline int32_t hb_smlatt(uint32_t x, uint32_t y, int32_t acc) {
    return (int32_t)((uint32_t)acc +
                     (uint32_t)((int32_t)(int16_t)(x >> 16) * (int32_t)(int16_t)(y >> 16)));
}
#endif

static inline uint32_t hb_load_u32(const int8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v); /* unaligned-safe; one LDR on cores that allow unaligned access */
    return v;
}
#endif

/* sum(a[i] * b[i]) for i < n. */
static inline int32_t hb_dot_s8(const int8_t *a, const int8_t *b, int32_t n) {
    int32_t acc = 0;
    int32_t i = 0;
#if defined(HB_DOT_USE_DSP)
    for (; i + 4 <= n; i += 4) {
        const uint32_t wa = hb_load_u32(a + i);
        const uint32_t wb = hb_load_u32(b + i);
        /* Bytes 0 and 2 pair up in one SMLAD, bytes 1 and 3 in the other. */
        acc = hb_smlad(hb_sxtb16(wa), hb_sxtb16(wb), acc);
        acc = hb_smlad(hb_sxtb16_ror8(wa), hb_sxtb16_ror8(wb), acc);
    }
#else
    int32_t acc1 = 0, acc2 = 0, acc3 = 0;
    for (; i + 4 <= n; i += 4) {
        acc += (int32_t)a[i] * b[i];
        acc1 += (int32_t)a[i + 1] * b[i + 1];
        acc2 += (int32_t)a[i + 2] * b[i + 2];
        acc3 += (int32_t)a[i + 3] * b[i + 3];
    }
    acc += acc1 + acc2 + acc3;
#endif
    for (; i < n; i++) {
        acc += (int32_t)a[i] * b[i];
    }
    return acc;
}

/* Two dot products sharing one operand: *acc0 += sum(x[i] * f0[i]), *acc1 += sum(x[i] * f1[i]).
 * Two output channels per pass over an input patch halve the loads (and, on DSP cores, the
 * sign extensions) of the patch. */
static inline void hb_dot2_s8(const int8_t *x, const int8_t *f0, const int8_t *f1, int32_t n,
                              int32_t *acc0, int32_t *acc1) {
    int32_t a0 = *acc0, a1 = *acc1;
    int32_t i = 0;
#if defined(HB_DOT_USE_DSP)
    /* Eight bytes per iteration: the loop overhead is paid half as often. */
    for (; i + 8 <= n; i += 8) {
        uint32_t wx = hb_load_u32(x + i);
        uint32_t x_even = hb_sxtb16(wx), x_odd = hb_sxtb16_ror8(wx);
        uint32_t w0 = hb_load_u32(f0 + i);
        uint32_t w1 = hb_load_u32(f1 + i);
        a0 = hb_smlad(hb_sxtb16(w0), x_even, a0);
        a0 = hb_smlad(hb_sxtb16_ror8(w0), x_odd, a0);
        a1 = hb_smlad(hb_sxtb16(w1), x_even, a1);
        a1 = hb_smlad(hb_sxtb16_ror8(w1), x_odd, a1);
        wx = hb_load_u32(x + i + 4);
        x_even = hb_sxtb16(wx);
        x_odd = hb_sxtb16_ror8(wx);
        w0 = hb_load_u32(f0 + i + 4);
        w1 = hb_load_u32(f1 + i + 4);
        a0 = hb_smlad(hb_sxtb16(w0), x_even, a0);
        a0 = hb_smlad(hb_sxtb16_ror8(w0), x_odd, a0);
        a1 = hb_smlad(hb_sxtb16(w1), x_even, a1);
        a1 = hb_smlad(hb_sxtb16_ror8(w1), x_odd, a1);
    }
    for (; i + 4 <= n; i += 4) {
        const uint32_t wx = hb_load_u32(x + i);
        const uint32_t x_even = hb_sxtb16(wx), x_odd = hb_sxtb16_ror8(wx);
        const uint32_t w0 = hb_load_u32(f0 + i);
        const uint32_t w1 = hb_load_u32(f1 + i);
        a0 = hb_smlad(hb_sxtb16(w0), x_even, a0);
        a0 = hb_smlad(hb_sxtb16_ror8(w0), x_odd, a0);
        a1 = hb_smlad(hb_sxtb16(w1), x_even, a1);
        a1 = hb_smlad(hb_sxtb16_ror8(w1), x_odd, a1);
    }
#else
    for (; i + 2 <= n; i += 2) {
        const int32_t x0 = x[i], x1 = x[i + 1];
        a0 += x0 * f0[i] + x1 * f0[i + 1];
        a1 += x0 * f1[i] + x1 * f1[i + 1];
    }
#endif
    for (; i < n; i++) {
        a0 += (int32_t)x[i] * f0[i];
        a1 += (int32_t)x[i] * f1[i];
    }
    *acc0 = a0;
    *acc1 = a1;
}

#if defined(HB_DOT_USE_DSP)
/*
 * Packed operands. The filters these loops read are laid out ahead of time by the model
 * compiler (hilbench/compile/layout.py, pack_rows): output channels (filter rows) in blocks of
 * B rows; inside a block, group by group of four depth values, row by row, the four weight
 * bytes, or (filter_int16) the weights already sign-extended to the int16 pairs (w0, w2) and
 * (w1, w3): no SXTB16 on weights, twice the flash. Rows are padded with zeros to a multiple of
 * B, depth to a multiple of four.
 * The shared operand (an input row, or a patch) is sign-extended once into the same pairs,
 * (x0, x2) then (x1, x3) per group of four, zero-padded like the filter, and then serves every
 * output channel: the inner loops are loads and SMLAD only.
 */

/* The four bytes at x; when fewer than four remain (n < 4), the missing ones are zero. */
static inline uint32_t hb_load_group(const int8_t *x, int32_t n) {
    if (n >= 4) {
        return hb_load_u32(x);
    }
    uint32_t word = 0;
    for (int32_t i = 0; i < n; i++) {
        word |= (uint32_t)(uint8_t)x[i] << (8 * i);
    }
    return word;
}

/* x[0..n) unpacked: two words per group of four. */
static inline void hb_unpack_s8(const int8_t *x, int32_t n, uint32_t *out) {
    for (int32_t i = 0; i < n; i += 4, out += 2) {
        const uint32_t word = hb_load_group(x + i, n - i);
        out[0] = hb_sxtb16(word);
        out[1] = hb_sxtb16_ror8(word);
    }
}

/* Two operands unpacked side by side, per group x0's two words then x1's. */
static inline void hb_unpack_pair_s8(const int8_t *x0, const int8_t *x1, int32_t n,
                                     uint32_t *out) {
    for (int32_t i = 0; i < n; i += 4, out += 4) {
        const uint32_t word0 = hb_load_group(x0 + i, n - i);
        const uint32_t word1 = hb_load_group(x1 + i, n - i);
        out[0] = hb_sxtb16(word0);
        out[1] = hb_sxtb16_ror8(word0);
        out[2] = hb_sxtb16(word1);
        out[3] = hb_sxtb16_ror8(word1);
    }
}

/* The packed loops in Thumb-2 assembly on Arm cores with the DSP extension, in optimised builds
 * (an unoptimised build keeps r7 as its frame pointer and may run out of registers): GCC
 * neither merges their loads into LDM/LDRD nor keeps all thirteen values in registers. The C
 * loops beside them are the same arithmetic (the host tests run those, HB_EMULATE_DSP). */
#if defined(__ARM_FEATURE_DSP) && !defined(HB_EMULATE_DSP) && defined(__OPTIMIZE__) &&     defined(__thumb2__)
#define HB_DOT_ASM 1
#endif

/* The packed loops need every register of a Cortex-M4: inlined into a kernel's channel loop,
 * GCC spills their pointers inside the loop, which costs more than one call per block. */
#if defined(__GNUC__)
#define HB_NOINLINE __attribute__((noinline, unused))
#else
#define HB_NOINLINE
#endif

/* Two pixels (hb_unpack_pair_s8) by a block of two filter rows (B = 2): acc = {x0.f0, x0.f1,
 * x1.f0, x1.f1} added to. Per group of 16 multiply-accumulates: 13 instructions with an int16
 * filter (one LDM of the four input words, two LDRD of filter pairs, 8 SMLAD), 17 with a byte
 * filter (two word loads and four SXTB16 instead of the LDRDs). */
HB_NOINLINE static void hb_dot_2x2_packed(const uint32_t *x, const uint32_t *w, int32_t groups,
                                          int filter_int16, int32_t acc[4]) {
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const uint32_t *const end = x + 4 * groups;
#if defined(HB_DOT_ASM)
    if (groups > 0) {
        __asm__ volatile("cmp %[wide], #0\n\t"
                         "beq 2f\n"
                         "1:\n\t"
                         "ldmia %[x]!, {r4, r5, r6, r8}\n\t"
                         "ldrd r9, r10, [%[w]], #16\n\t"
                         "smlad %[a00], r9, r4, %[a00]\n\t"
                         "smlad %[a00], r10, r5, %[a00]\n\t"
                         "smlad %[a10], r9, r6, %[a10]\n\t"
                         "smlad %[a10], r10, r8, %[a10]\n\t"
                         "ldrd r9, r10, [%[w], #-8]\n\t"
                         "smlad %[a01], r9, r4, %[a01]\n\t"
                         "smlad %[a01], r10, r5, %[a01]\n\t"
                         "smlad %[a11], r9, r6, %[a11]\n\t"
                         "smlad %[a11], r10, r8, %[a11]\n\t"
                         "cmp %[x], %[end]\n\t"
                         "bne 1b\n\t"
                         "b 3f\n"
                         "2:\n\t"
                         "ldmia %[x]!, {r4, r5, r6, r8}\n\t"
                         "ldr r9, [%[w]], #4\n\t"
                         "sxtb16 r10, r9\n\t"
                         "sxtb16 r9, r9, ror #8\n\t"
                         "smlad %[a00], r10, r4, %[a00]\n\t"
                         "smlad %[a00], r9, r5, %[a00]\n\t"
                         "smlad %[a10], r10, r6, %[a10]\n\t"
                         "smlad %[a10], r9, r8, %[a10]\n\t"
                         "ldr r9, [%[w]], #4\n\t"
                         "sxtb16 r10, r9\n\t"
                         "sxtb16 r9, r9, ror #8\n\t"
                         "smlad %[a01], r10, r4, %[a01]\n\t"
                         "smlad %[a01], r9, r5, %[a01]\n\t"
                         "smlad %[a11], r10, r6, %[a11]\n\t"
                         "smlad %[a11], r9, r8, %[a11]\n\t"
                         "cmp %[x], %[end]\n\t"
                         "bne 2b\n"
                         "3:"
                         : [x] "+r"(x), [w] "+r"(w), [a00] "+r"(a00), [a01] "+r"(a01),
                           [a10] "+r"(a10), [a11] "+r"(a11)
                         : [end] "r"(end), [wide] "r"(filter_int16)
                         : "r4", "r5", "r6", "r8", "r9", "r10", "cc", "memory");
    }
#else
    for (; x != end; x += 4) {
        /* The filter pairs of the two rows: (f0 even, f0 odd, f1 even, f1 odd). */
        uint32_t f[4];
        if (filter_int16) {
            f[0] = w[0], f[1] = w[1], f[2] = w[2], f[3] = w[3];
            w += 4;
        } else {
            f[0] = hb_sxtb16(w[0]), f[1] = hb_sxtb16_ror8(w[0]);
            f[2] = hb_sxtb16(w[1]), f[3] = hb_sxtb16_ror8(w[1]);
            w += 2;
        }
        a00 = hb_smlad(f[1], x[1], hb_smlad(f[0], x[0], a00));
        a10 = hb_smlad(f[1], x[3], hb_smlad(f[0], x[2], a10));
        a01 = hb_smlad(f[3], x[1], hb_smlad(f[2], x[0], a01));
        a11 = hb_smlad(f[3], x[3], hb_smlad(f[2], x[2], a11));
    }
#endif
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* One row (hb_unpack_s8) by a block of four filter rows (B = 4): acc[r] += x . f_r. Per group
 * of 16 multiply-accumulates: 13 instructions with an int16 filter (one LDRD of the input
 * pair, two LDM of four filter words, 8 SMLAD), 21 with a byte filter (two LDM of two words
 * and eight SXTB16). */
HB_NOINLINE static void hb_dot_1x4_packed(const uint32_t *x, const uint32_t *w, int32_t groups,
                                          int filter_int16, int32_t acc[4]) {
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const uint32_t *const end = x + 2 * groups;
#if defined(HB_DOT_ASM)
    if (groups > 0) {
        __asm__ volatile("cmp %[wide], #0\n\t"
                         "beq 2f\n"
                         "1:\n\t"
                         "ldrd r4, r5, [%[x]], #8\n\t"
                         "ldmia %[w]!, {r6, r8, r9, r10}\n\t"
                         "smlad %[a0], r6, r4, %[a0]\n\t"
                         "smlad %[a0], r8, r5, %[a0]\n\t"
                         "smlad %[a1], r9, r4, %[a1]\n\t"
                         "smlad %[a1], r10, r5, %[a1]\n\t"
                         "ldmia %[w]!, {r6, r8, r9, r10}\n\t"
                         "smlad %[a2], r6, r4, %[a2]\n\t"
                         "smlad %[a2], r8, r5, %[a2]\n\t"
                         "smlad %[a3], r9, r4, %[a3]\n\t"
                         "smlad %[a3], r10, r5, %[a3]\n\t"
                         "cmp %[x], %[end]\n\t"
                         "bne 1b\n\t"
                         "b 3f\n"
                         "2:\n\t"
                         "ldrd r4, r5, [%[x]], #8\n\t"
                         "ldmia %[w]!, {r6, r9}\n\t"
                         "sxtb16 r8, r6\n\t"
                         "sxtb16 r6, r6, ror #8\n\t"
                         "smlad %[a0], r8, r4, %[a0]\n\t"
                         "smlad %[a0], r6, r5, %[a0]\n\t"
                         "sxtb16 r8, r9\n\t"
                         "sxtb16 r9, r9, ror #8\n\t"
                         "smlad %[a1], r8, r4, %[a1]\n\t"
                         "smlad %[a1], r9, r5, %[a1]\n\t"
                         "ldmia %[w]!, {r6, r9}\n\t"
                         "sxtb16 r8, r6\n\t"
                         "sxtb16 r6, r6, ror #8\n\t"
                         "smlad %[a2], r8, r4, %[a2]\n\t"
                         "smlad %[a2], r6, r5, %[a2]\n\t"
                         "sxtb16 r8, r9\n\t"
                         "sxtb16 r9, r9, ror #8\n\t"
                         "smlad %[a3], r8, r4, %[a3]\n\t"
                         "smlad %[a3], r9, r5, %[a3]\n\t"
                         "cmp %[x], %[end]\n\t"
                         "bne 2b\n"
                         "3:"
                         : [x] "+r"(x), [w] "+r"(w), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2),
                           [a3] "+r"(a3)
                         : [end] "r"(end), [wide] "r"(filter_int16)
                         : "r4", "r5", "r6", "r8", "r9", "r10", "cc", "memory");
    }
#else
    for (; x != end; x += 2) {
        /* Row r's filter pair: f[2r] (even), f[2r + 1] (odd). */
        uint32_t f[8];
        for (int r = 0; r < 4; r++) {
            if (filter_int16) {
                f[2 * r] = w[2 * r], f[2 * r + 1] = w[2 * r + 1];
            } else {
                f[2 * r] = hb_sxtb16(w[r]), f[2 * r + 1] = hb_sxtb16_ror8(w[r]);
            }
        }
        w += filter_int16 ? 8 : 4;
        a0 = hb_smlad(f[1], x[1], hb_smlad(f[0], x[0], a0));
        a1 = hb_smlad(f[3], x[1], hb_smlad(f[2], x[0], a1));
        a2 = hb_smlad(f[5], x[1], hb_smlad(f[4], x[0], a2));
        a3 = hb_smlad(f[7], x[1], hb_smlad(f[6], x[0], a3));
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

/* A 2x2 block of dot products: two patches (output pixels) by two filters (output channels),
 * acc = {x0.f0, x0.f1, x1.f0, x1.f1} added to. Each loaded byte serves two products. */
static inline void hb_dot_2x2_s8(const int8_t *x0, const int8_t *x1, const int8_t *f0,
                                 const int8_t *f1, int32_t n, int32_t acc[4]) {
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t i = 0;
#if defined(HB_DOT_USE_DSP)
    for (; i + 4 <= n; i += 4) {
        const uint32_t w0 = hb_load_u32(x0 + i), w1 = hb_load_u32(x1 + i);
        const uint32_t x0_even = hb_sxtb16(w0), x0_odd = hb_sxtb16_ror8(w0);
        const uint32_t x1_even = hb_sxtb16(w1), x1_odd = hb_sxtb16_ror8(w1);
        uint32_t wf = hb_load_u32(f0 + i);
        uint32_t f_even = hb_sxtb16(wf), f_odd = hb_sxtb16_ror8(wf);
        a00 = hb_smlad(f_even, x0_even, a00);
        a00 = hb_smlad(f_odd, x0_odd, a00);
        a10 = hb_smlad(f_even, x1_even, a10);
        a10 = hb_smlad(f_odd, x1_odd, a10);
        wf = hb_load_u32(f1 + i);
        f_even = hb_sxtb16(wf);
        f_odd = hb_sxtb16_ror8(wf);
        a01 = hb_smlad(f_even, x0_even, a01);
        a01 = hb_smlad(f_odd, x0_odd, a01);
        a11 = hb_smlad(f_even, x1_even, a11);
        a11 = hb_smlad(f_odd, x1_odd, a11);
    }
#endif
    for (; i < n; i++) {
        const int32_t v0 = x0[i], v1 = x1[i], g0 = f0[i], g1 = f1[i];
        a00 += v0 * g0;
        a01 += v0 * g1;
        a10 += v1 * g0;
        a11 += v1 * g1;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Four dot products sharing one operand: acc[k] += sum(x[i] * f_k[i]), with f_k = f + k * stride.
 * Four output channels per pass over a patch load each patch byte once for four filters
 * (portable path; the DSP path uses hb_dot2_s8, see conv_2d.c). */
static inline void hb_dot4_s8(const int8_t *x, const int8_t *f, int32_t stride, int32_t n,
                              int32_t acc[4]) {
    const int8_t *f0 = f, *f1 = f + stride, *f2 = f + 2 * stride, *f3 = f + 3 * stride;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i = 0;
    for (; i < n; i++) {
        const int32_t xi = x[i];
        a0 += xi * f0[i];
        a1 += xi * f1[i];
        a2 += xi * f2[i];
        a3 += xi * f3[i];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Four independent lanes: acc[k] += x[k] * f[k] for k < 4 (depthwise: four channels of one tap). */
static inline void hb_mac4_s8(const int8_t *x, const int8_t *f, int32_t *acc0, int32_t *acc1,
                              int32_t *acc2, int32_t *acc3) {
#if defined(HB_DOT_USE_DSP)
    const uint32_t wx = hb_load_u32(x), wf = hb_load_u32(f);
    const uint32_t x02 = hb_sxtb16(wx), x13 = hb_sxtb16_ror8(wx);
    const uint32_t f02 = hb_sxtb16(wf), f13 = hb_sxtb16_ror8(wf);
    *acc0 = hb_smlabb(x02, f02, *acc0);
    *acc2 = hb_smlatt(x02, f02, *acc2);
    *acc1 = hb_smlabb(x13, f13, *acc1);
    *acc3 = hb_smlatt(x13, f13, *acc3);
#else
    *acc0 += (int32_t)x[0] * f[0];
    *acc1 += (int32_t)x[1] * f[1];
    *acc2 += (int32_t)x[2] * f[2];
    *acc3 += (int32_t)x[3] * f[3];
#endif
}

/* sum(a[i] * (b[i] + b_offset)) for i < n. */
static inline int32_t hb_dot_s8_offset(const int8_t *a, const int8_t *b, int32_t n,
                                       int32_t b_offset) {
    int32_t sum_a = 0;
    for (int32_t i = 0; i < n; i++) {
        sum_a += a[i];
    }
    return hb_dot_s8(a, b, n) + b_offset * sum_a;
}

#endif
