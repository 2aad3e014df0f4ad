/* DEPTHWISE_CONV_2D int8, per-channel; same integers as TFLM reference_integer_ops::DepthwiseConvPerChannel. */
#include <string.h>

#include "hb_dot.h"
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

/* Filters with more taps than this take the general path. */
#define MAX_TAPS 64

/* First and one-past-last filter tap that land inside the input along one axis. */
static void valid_taps(int32_t origin, int32_t dilation, int32_t taps, int32_t input_size,
                       int32_t *start, int32_t *end) {
    int32_t s = 0;
    while (s < taps && origin + s * dilation < 0) {
        s++;
    }
    int32_t e = taps;
    while (e > s && origin + (e - 1) * dilation >= input_size) {
        e--;
    }
    *start = s;
    *end = e;
}

static inline int8_t requantize(const hb_depthwise_conv_params_t *p, int32_t acc, int32_t c) {
    return hb_requantize_s8(acc, p->multiplier[c], p->shift[c], p->requantize, p->output_offset,
                            p->act_min, p->act_max);
}

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* Depth multiplier 1 (output channel c reads input channel c), four channels at a time in
 * registers. taps[t] points at the input pixel under filter tap t, or at a row of input zero
 * points for taps in the padding: those add f * (zero_point + input_offset) = 0, so every pixel
 * takes the same path, starting from acc_init = bias + input_offset * sum(filter).
 * n_taps is a constant where the caller is a specialisation (3x3), so the tap loop unrolls. */
static ALWAYS_INLINE void pixel_from_taps(const hb_depthwise_conv_params_t *p, const int8_t *const *taps,
                                   int32_t n_taps, const int8_t *filter, int8_t *output) {
    const int32_t channels = p->output_c;
    int32_t c = 0;
#if defined(HB_DOT_USE_DSP)
    /* The compiler packed the filter (hilbench/compile/layout.py, pack_depthwise): per group of
     * four channels, tap by tap, the weights already sign-extended into the halfword pairs
     * (c0, c2) and (c1, c3), so a tap costs one input load, two SXTB16, one filter load pair
     * and four 16x16 multiply-accumulates. */
    const uint32_t *w = (const uint32_t *)(const void *)filter;
    for (; c + 4 <= channels; c += 4) {
        int32_t acc0 = p->acc_init[c], acc1 = p->acc_init[c + 1];
        int32_t acc2 = p->acc_init[c + 2], acc3 = p->acc_init[c + 3];
        /* Unrolled where n_taps is a constant (the 3x3 entry point). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 9
#endif
        for (int32_t t = 0; t < n_taps; t++, w += 2) {
            const uint32_t x = hb_load_u32(taps[t] + c);
            const uint32_t x02 = hb_sxtb16(x), x13 = hb_sxtb16_ror8(x);
            acc0 = hb_smlabb(x02, w[0], acc0);
            acc2 = hb_smlatt(x02, w[0], acc2);
            acc1 = hb_smlabb(x13, w[1], acc1);
            acc3 = hb_smlatt(x13, w[1], acc3);
        }
        output[c] = requantize(p, acc0, c);
        output[c + 1] = requantize(p, acc1, c + 1);
        output[c + 2] = requantize(p, acc2, c + 2);
        output[c + 3] = requantize(p, acc3, c + 3);
    }
    /* The last channels (fewer than four) read their lane of the last, zero-padded group. */
    const int16_t *lanes = (const int16_t *)(const void *)w;
    for (; c < channels; c++) {
        const int32_t lane = c & 3; /* halfword (lane & 1) * 2 + (lane >> 1) of each tap's pair */
        int32_t acc = p->acc_init[c];
        for (int32_t t = 0; t < n_taps; t++) {
            acc += (int32_t)taps[t][c] * lanes[4 * t + 2 * (lane & 1) + (lane >> 1)];
        }
        output[c] = requantize(p, acc, c);
    }
#else
    for (; c + 4 <= channels; c += 4) {
        int32_t acc0 = p->acc_init[c];
        int32_t acc1 = p->acc_init[c + 1];
        int32_t acc2 = p->acc_init[c + 2];
        int32_t acc3 = p->acc_init[c + 3];
        const int8_t *f = filter + c;
        for (int32_t t = 0; t < n_taps; t++, f += channels) {
            hb_mac4_s8(taps[t] + c, f, &acc0, &acc1, &acc2, &acc3);
        }
        output[c] = requantize(p, acc0, c);
        output[c + 1] = requantize(p, acc1, c + 1);
        output[c + 2] = requantize(p, acc2, c + 2);
        output[c + 3] = requantize(p, acc3, c + 3);
    }
    for (; c < channels; c++) {
        int32_t acc = p->acc_init[c];
        const int8_t *f = filter + c;
        for (int32_t t = 0; t < n_taps; t++, f += channels) {
            acc += (int32_t)taps[t][c] * *f;
        }
        output[c] = requantize(p, acc, c);
    }
#endif
}

/* Depth multiplier above 1 (output channel in_c * multiplier + m reads input channel in_c),
 * from the same tap pointers, so padded taps cost nothing either. The filter is the model's. */
static void pixel_from_taps_multiplier(const hb_depthwise_conv_params_t *p,
                                       const int8_t *const *taps, int32_t n_taps,
                                       const int8_t *filter, int8_t *output) {
    int32_t out_c = 0;
    for (int32_t in_c = 0; in_c < p->input_c; in_c++) {
        for (int32_t m = 0; m < p->depth_multiplier; m++, out_c++) {
            int32_t acc = p->acc_init[out_c];
            const int8_t *f = filter + out_c;
            for (int32_t t = 0; t < n_taps; t++, f += p->output_c) {
                acc += (int32_t)taps[t][in_c] * *f;
            }
            output[out_c] = requantize(p, acc, out_c);
        }
    }
}

/* Any depth multiplier and filter size, without scratch: bounds checked per tap. */
static void pixel_any_multiplier(const hb_depthwise_conv_params_t *p, const int8_t *input_batch,
                                 const int8_t *filter, const int32_t *bias, int32_t in_y_origin,
                                 int32_t in_x_origin, int32_t fy_start, int32_t fy_end,
                                 int32_t fx_start, int32_t fx_end, int8_t *output) {
    for (int32_t out_c = 0; out_c < p->output_c; out_c++) {
        const int32_t in_c = out_c / p->depth_multiplier;
        int32_t acc = bias ? bias[out_c] : 0;
        for (int32_t fy = fy_start; fy < fy_end; fy++) {
            const int32_t in_y = in_y_origin + fy * p->dilation_h;
            for (int32_t fx = fx_start; fx < fx_end; fx++) {
                const int32_t in_x = in_x_origin + fx * p->dilation_w;
                const int32_t x = input_batch[((size_t)in_y * p->input_w + in_x) * p->input_c + in_c];
                const int32_t f = filter[((size_t)fy * p->filter_w + fx) * p->output_c + out_c];
                acc += f * (x + p->input_offset);
            }
        }
        output[out_c] = requantize(p, acc, out_c);
    }
}

/* taps[t] for the output pixel whose window starts at (in_y_origin, in_x_origin). Inside the
 * image (most pixels) each tap is the window's first pixel plus a fixed offset. */
static inline void fill_taps(const hb_depthwise_conv_params_t *p, const int8_t *input_batch,
                             int32_t in_y_origin, int32_t in_x_origin, const int32_t *offsets,
                             const int8_t *pad_row, const int8_t **taps) {
    const int32_t n_taps = p->filter_h * p->filter_w;
    const int inside = in_y_origin >= 0 && in_x_origin >= 0 &&
                       in_y_origin + (p->filter_h - 1) * p->dilation_h < p->input_h &&
                       in_x_origin + (p->filter_w - 1) * p->dilation_w < p->input_w;
    if (inside) {
        const int8_t *origin =
            input_batch + ((size_t)in_y_origin * p->input_w + in_x_origin) * p->input_c;
        for (int32_t t = 0; t < n_taps; t++) {
            taps[t] = origin + offsets[t];
        }
        return;
    }
    int32_t t = 0;
    for (int32_t fy = 0; fy < p->filter_h; fy++) {
        const int32_t in_y = in_y_origin + fy * p->dilation_h;
        for (int32_t fx = 0; fx < p->filter_w; fx++, t++) {
            const int32_t in_x = in_x_origin + fx * p->dilation_w;
            const int in_image = in_y >= 0 && in_y < p->input_h && in_x >= 0 && in_x < p->input_w;
            taps[t] = in_image ? input_batch + ((size_t)in_y * p->input_w + in_x) * p->input_c
                               : pad_row;
        }
    }
}

/* Every output pixel through tap pointers. fixed_taps: the tap count when the caller is a
 * specialisation (a constant once inlined), 0 otherwise. */
static ALWAYS_INLINE void depthwise_from_taps(const hb_depthwise_conv_params_t *params,
                                              const int8_t *input,
                                       const int8_t *filter, int8_t *output, int8_t *pad_row,
                                       int32_t fixed_taps) {
    /* A local copy: stores through int8_t pointers may alias *params as far as the compiler
     * knows, and would make it reload every field after each output byte. */
    const hb_depthwise_conv_params_t local = *params;
    const hb_depthwise_conv_params_t *p = &local;
    const size_t input_batch_size = (size_t)p->input_h * p->input_w * p->input_c;
    const int32_t n_taps = fixed_taps ? fixed_taps : p->filter_h * p->filter_w;
    const int8_t *taps[MAX_TAPS];
    int32_t offsets[MAX_TAPS];
    for (int32_t fy = 0, t = 0; fy < p->filter_h; fy++) {
        for (int32_t fx = 0; fx < p->filter_w; fx++, t++) {
            offsets[t] = (fy * p->dilation_h * p->input_w + fx * p->dilation_w) * p->input_c;
        }
    }
    memset(pad_row, (int8_t)(-p->input_offset), (size_t)p->input_c);
    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * input_batch_size;
        for (int32_t out_y = 0; out_y < p->output_h; out_y++) {
            const int32_t in_y_origin = out_y * p->stride_h - p->pad_h;
            for (int32_t out_x = 0; out_x < p->output_w; out_x++, output += p->output_c) {
                fill_taps(p, input_batch, in_y_origin, out_x * p->stride_w - p->pad_w, offsets,
                          pad_row, taps);
                if (p->depth_multiplier == 1) {
                    pixel_from_taps(p, taps, n_taps, filter, output);
                } else {
                    pixel_from_taps_multiplier(p, taps, n_taps, filter, output);
                }
            }
        }
    }
}

void hb_depthwise_conv_2d_s8(const hb_depthwise_conv_params_t *p, const int8_t *input,
                             const int8_t *filter, const int32_t *bias, int8_t *output,
                             int8_t *pad_row) {
    if (pad_row != NULL && p->filter_h * p->filter_w <= MAX_TAPS) {
        depthwise_from_taps(p, input, filter, output, pad_row, 0);
        return;
    }
    const size_t input_batch_size = (size_t)p->input_h * p->input_w * p->input_c;
    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * input_batch_size;
        for (int32_t out_y = 0; out_y < p->output_h; out_y++) {
            const int32_t in_y_origin = out_y * p->stride_h - p->pad_h;
            for (int32_t out_x = 0; out_x < p->output_w; out_x++, output += p->output_c) {
                const int32_t in_x_origin = out_x * p->stride_w - p->pad_w;
                int32_t fy_start, fy_end, fx_start, fx_end;
                valid_taps(in_y_origin, p->dilation_h, p->filter_h, p->input_h, &fy_start,
                           &fy_end);
                valid_taps(in_x_origin, p->dilation_w, p->filter_w, p->input_w, &fx_start,
                           &fx_end);
                pixel_any_multiplier(p, input_batch, filter, bias, in_y_origin, in_x_origin,
                                     fy_start, fy_end, fx_start, fx_end, output);
            }
        }
    }
}

void hb_depthwise_conv_2d_3x3_s8(const hb_depthwise_conv_params_t *p, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias, int8_t *output,
                                 int8_t *pad_row) {
    (void)bias; /* folded into acc_init */
    depthwise_from_taps(p, input, filter, output, pad_row, 9);
}
