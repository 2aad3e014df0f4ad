/* CONV_2D int8, per-channel quantized; same integers as TFLM reference_integer_ops::ConvPerChannel.
 *
 * Each output pixel's receptive field (its "patch": filter_h x filter_w x input_c values) is
 * gathered into one contiguous buffer, with padded taps set to the input zero point, so that
 * every output channel is a single dot product of the patch with that channel's filter (OHWI
 * filters are contiguous per channel):
 *     sum over taps of f * (x + input_offset) = dot(f, patch) + input_offset * sum(f)
 * since padded taps hold x = -input_offset and contribute nothing. bias + input_offset * sum(f)
 * is precomputed per channel (acc_init).
 * 1x1 convolutions without padding use the input pixel itself as the patch. Pixels go in
 * pairs and output channels in pairs, so that each loaded byte serves two products.
 *
 * Two paths (hb_target.h):
 *   - portable C: filters as the model stores them (OHWI);
 *   - DSP: the two patches of a pixel pair are sign-extended once (hb_unpack_pair_s8) and every
 *     pair of output channels is one 2x2 block over a filter the compiler laid out in blocks of
 *     two rows, as bytes or, where the filter serves many pixels (filter_int16), already
 *     sign-extended (hb_dot.h). Scratch: the unpacked pair (16 bytes per group of four
 *     patch values), then the two gathered patches.
 */
#include <string.h>

#include "hb_dot.h"
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

/* Copy the patch of the output pixel whose window starts at (in_y_origin, in_x_origin);
 * taps outside the image get pad_value (the input zero point). */
static void gather_patch(const hb_conv_params_t *p, const int8_t *input_batch, int32_t in_y_origin,
                         int32_t in_x_origin, int8_t pad_value, int8_t *patch) {
    const size_t pixel_bytes = (size_t)p->input_c;
    const size_t row_bytes = (size_t)p->filter_w * pixel_bytes;
    /* Without dilation, the taps inside the image form one run per filter row. */
    int32_t fx_start = 0, fx_end = p->filter_w;
    if (p->dilation_w == 1) {
        fx_start = in_x_origin < 0 ? -in_x_origin : 0;
        fx_end = p->input_w - in_x_origin < p->filter_w ? p->input_w - in_x_origin : p->filter_w;
        if (fx_end < fx_start) {
            fx_end = fx_start;
        }
    }
    for (int32_t fy = 0; fy < p->filter_h; fy++, patch += row_bytes) {
        const int32_t in_y = in_y_origin + fy * p->dilation_h;
        if (in_y < 0 || in_y >= p->input_h) {
            memset(patch, pad_value, row_bytes);
            continue;
        }
        const int8_t *input_row = input_batch + (size_t)in_y * p->input_w * pixel_bytes;
        if (p->dilation_w == 1) {
            memset(patch, pad_value, (size_t)fx_start * pixel_bytes);
            memcpy(patch + (size_t)fx_start * pixel_bytes,
                   input_row + (size_t)(in_x_origin + fx_start) * pixel_bytes,
                   (size_t)(fx_end - fx_start) * pixel_bytes);
            memset(patch + (size_t)fx_end * pixel_bytes, pad_value,
                   (size_t)(p->filter_w - fx_end) * pixel_bytes);
            continue;
        }
        for (int32_t fx = 0; fx < p->filter_w; fx++) {
            const int32_t in_x = in_x_origin + fx * p->dilation_w;
            if (in_x >= 0 && in_x < p->input_w) {
                memcpy(patch + fx * pixel_bytes, input_row + (size_t)in_x * pixel_bytes,
                       pixel_bytes);
            } else {
                memset(patch + fx * pixel_bytes, pad_value, pixel_bytes);
            }
        }
    }
}

/* Grouped convolution (filter_c < input_c): the straightforward loop, rare in practice. */
static void conv_grouped(const hb_conv_params_t *p, const int8_t *input, const int8_t *filter,
                         const int32_t *bias, int8_t *output) {
    const int32_t channels_per_group = p->output_c / (p->input_c / p->filter_c);
    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * p->input_h * p->input_w * p->input_c;
        for (int32_t out_y = 0; out_y < p->output_h; out_y++) {
            for (int32_t out_x = 0; out_x < p->output_w; out_x++) {
                for (int32_t out_c = 0; out_c < p->output_c; out_c++) {
                    const int32_t group = out_c / channels_per_group;
                    int32_t acc = bias ? bias[out_c] : 0;
                    for (int32_t fy = 0; fy < p->filter_h; fy++) {
                        const int32_t in_y = out_y * p->stride_h - p->pad_h + fy * p->dilation_h;
                        for (int32_t fx = 0; fx < p->filter_w; fx++) {
                            const int32_t in_x =
                                out_x * p->stride_w - p->pad_w + fx * p->dilation_w;
                            if (in_y < 0 || in_y >= p->input_h || in_x < 0 || in_x >= p->input_w) {
                                continue;
                            }
                            const int8_t *x = input_batch +
                                              ((size_t)in_y * p->input_w + in_x) * p->input_c +
                                              group * p->filter_c;
                            const int8_t *f = filter +
                                              (((size_t)out_c * p->filter_h + fy) * p->filter_w + fx) *
                                                  p->filter_c;
                            acc += hb_dot_s8_offset(f, x, p->filter_c, p->input_offset);
                        }
                    }
                    *output++ = hb_requantize_s8(acc, p->multiplier[out_c], p->shift[out_c],
                                                 p->requantize, p->output_offset, p->act_min,
                                                 p->act_max);
                }
            }
        }
    }
}

/* Parameters the channel loops use, copied out of the params struct: stores through int8_t
 * pointers may alias it as far as the compiler knows, and locals stay in registers. */
typedef struct {
    int32_t output_c, patch_size, input_offset, output_offset, act_min, act_max, requantize;
    const int32_t *multiplier, *shift, *acc_init;
} channel_loop_t;

static inline int32_t initial_acc(const channel_loop_t *l, int32_t c) {
    return l->acc_init[c];
}

static inline int8_t finish(const channel_loop_t *l, int32_t acc, int32_t c) {
    return hb_requantize_s8(acc, l->multiplier[c], l->shift[c], l->requantize, l->output_offset,
                            l->act_min, l->act_max);
}

#if !defined(HB_DOT_USE_DSP)
/* All output channels of one pixel (portable path). */
static void pixel_single(const channel_loop_t *l, const int8_t *patch, const int8_t *filter,
                         int8_t *output) {
    const int32_t k = l->patch_size;
    int32_t c = 0;
    /* Four channels per pass pays off in plain C. */
    for (; c + 4 <= l->output_c; c += 4) {
        int32_t acc[4] = {initial_acc(l, c), initial_acc(l, c + 1), initial_acc(l, c + 2),
                          initial_acc(l, c + 3)};
        hb_dot4_s8(patch, filter + (size_t)c * k, k, k, acc);
        for (int32_t j = 0; j < 4; j++) {
            output[c + j] = finish(l, acc[j], c + j);
        }
    }
    for (; c + 2 <= l->output_c; c += 2) {
        int32_t acc0 = initial_acc(l, c), acc1 = initial_acc(l, c + 1);
        const int8_t *f0 = filter + (size_t)c * k;
        hb_dot2_s8(patch, f0, f0 + k, k, &acc0, &acc1);
        output[c] = finish(l, acc0, c);
        output[c + 1] = finish(l, acc1, c + 1);
    }
    if (c < l->output_c) {
        output[c] = finish(l, initial_acc(l, c) + hb_dot_s8(filter + (size_t)c * k, patch, k), c);
    }
}

/* All output channels of two pixels, in 2x2 blocks (each loaded byte serves two products). */
static void pixel_pair(const channel_loop_t *l, const int8_t *patch0, const int8_t *patch1,
                       const int8_t *filter, int8_t *output0, int8_t *output1) {
    const int32_t k = l->patch_size;
    int32_t c = 0;
    for (; c + 2 <= l->output_c; c += 2) {
        const int8_t *f0 = filter + (size_t)c * k;
        const int32_t init0 = initial_acc(l, c), init1 = initial_acc(l, c + 1);
        int32_t acc[4] = {init0, init1, init0, init1};
        hb_dot_2x2_s8(patch0, patch1, f0, f0 + k, k, acc);
        output0[c] = finish(l, acc[0], c);
        output0[c + 1] = finish(l, acc[1], c + 1);
        output1[c] = finish(l, acc[2], c);
        output1[c + 1] = finish(l, acc[3], c + 1);
    }
    if (c < l->output_c) {
        int32_t acc0 = initial_acc(l, c), acc1 = acc0;
        /* One filter shared by the two patches. */
        hb_dot2_s8(filter + (size_t)c * k, patch0, patch1, k, &acc0, &acc1);
        output0[c] = finish(l, acc0, c);
        output1[c] = finish(l, acc1, c);
    }
}

#endif

/* 1x1 convolutions without padding read each patch straight from the input (the compiler gives
 * them no gather scratch: hilbench/compile/lowering.py, _lower_conv_2d). */
static inline int reads_input_directly(const hb_conv_params_t *p) {
    return p->filter_h == 1 && p->filter_w == 1 && p->pad_h == 0 && p->pad_w == 0;
}

/* The patch of output pixel (out_y, out_x): gathered into `scratch`, or, for 1x1 convolutions
 * without padding (scratch NULL), the input pixel itself. */
static inline const int8_t *pixel_patch(const hb_conv_params_t *p, const int8_t *input_batch,
                                        int32_t out_y, int32_t out_x, int8_t *scratch) {
    const int32_t in_y_origin = out_y * p->stride_h - p->pad_h;
    const int32_t in_x_origin = out_x * p->stride_w - p->pad_w;
    if (scratch == NULL) {
        return input_batch + ((size_t)in_y_origin * p->input_w + in_x_origin) * p->input_c;
    }
    gather_patch(p, input_batch, in_y_origin, in_x_origin, (int8_t)(-p->input_offset), scratch);
    return scratch;
}

#if defined(HB_DOT_USE_DSP)
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* One output byte of the DSP path; `narrow` is a constant in each copy of the channel loop. */
static ALWAYS_INLINE int8_t finish_packed(const channel_loop_t *l, int narrow, int32_t acc,
                                          int32_t c) {
    return hb_requantize_s8(acc, l->multiplier[c], l->shift[c], narrow, l->output_offset,
                            l->act_min, l->act_max);
}

/* Both pixels of a pair (unpacked) by every block of two output channels. For an odd pixel
 * count the last pair is one pixel twice, with output1 == output0: the same bytes land twice. */
static ALWAYS_INLINE void pixel_pair_packed(const channel_loop_t *l, int narrow,
                                            const uint32_t *unpacked, int32_t groups,
                                            const uint32_t *filter, int filter_int16,
                                            int8_t *output0, int8_t *output1) {
    const int32_t block_words = (filter_int16 ? 4 : 2) * groups;
    int32_t c = 0;
    for (; c + 2 <= l->output_c; c += 2, filter += block_words) {
        const int32_t init0 = initial_acc(l, c), init1 = initial_acc(l, c + 1);
        int32_t acc[4] = {init0, init1, init0, init1};
        hb_dot_2x2_packed(unpacked, filter, groups, filter_int16, acc);
        output0[c] = finish_packed(l, narrow, acc[0], c);
        output0[c + 1] = finish_packed(l, narrow, acc[1], c + 1);
        output1[c] = finish_packed(l, narrow, acc[2], c);
        output1[c + 1] = finish_packed(l, narrow, acc[3], c + 1);
    }
    if (c < l->output_c) { /* the last block is half padding */
        const int32_t init0 = initial_acc(l, c);
        int32_t acc[4] = {init0, 0, init0, 0};
        hb_dot_2x2_packed(unpacked, filter, groups, filter_int16, acc);
        output0[c] = finish_packed(l, narrow, acc[0], c);
        output1[c] = finish_packed(l, narrow, acc[2], c);
    }
}

static ALWAYS_INLINE void conv_packed(const hb_conv_params_t *p, const channel_loop_t *l,
                                      int narrow, const int8_t *input, const int8_t *filter,
                                      int8_t *output, int8_t *scratch) {
    const int32_t groups = (l->patch_size + 3) / 4;
    uint32_t *unpacked = (uint32_t *)(void *)scratch;
    int8_t *gather0 = reads_input_directly(p) ? NULL : scratch + 16 * groups;
    int8_t *gather1 = gather0 ? gather0 + l->patch_size : NULL;
    const size_t input_batch_size = (size_t)p->input_h * p->input_w * p->input_c;
    const int32_t pixels = p->output_h * p->output_w;
    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * input_batch_size;
        int32_t out_y = 0, out_x = 0;
        for (int32_t pixel = 0; pixel < pixels; pixel += 2) {
            const int8_t *patch0 = pixel_patch(p, input_batch, out_y, out_x, gather0);
            const int8_t *patch1 = patch0;
            if (++out_x == p->output_w) {
                out_x = 0;
                out_y++;
            }
            const int pair = pixel + 1 < pixels;
            if (pair) {
                patch1 = pixel_patch(p, input_batch, out_y, out_x, gather1);
                if (++out_x == p->output_w) {
                    out_x = 0;
                    out_y++;
                }
            }
            hb_unpack_pair_s8(patch0, patch1, l->patch_size, unpacked);
            pixel_pair_packed(l, narrow, unpacked, groups, (const uint32_t *)(const void *)filter,
                              p->filter_int16, output, pair ? output + l->output_c : output);
            output += (pair ? 2 : 1) * l->output_c;
        }
    }
}
#endif

void hb_conv_2d_s8(const hb_conv_params_t *p, const int8_t *input, const int8_t *filter,
                   const int32_t *bias, int8_t *output, int8_t *scratch) {
    if (p->filter_c != p->input_c) {
        conv_grouped(p, input, filter, bias, output);
        return;
    }
    const channel_loop_t loop = {
        .output_c = p->output_c, .patch_size = p->filter_h * p->filter_w * p->input_c,
        .input_offset = p->input_offset, .output_offset = p->output_offset,
        .act_min = p->act_min, .act_max = p->act_max, .requantize = p->requantize,
        .multiplier = p->multiplier,
        .shift = p->shift, .acc_init = p->acc_init};
#if defined(HB_DOT_USE_DSP)
    if (loop.requantize == HB_REQUANTIZE_NARROW) {
        conv_packed(p, &loop, 1, input, filter, output, scratch);
    } else {
        conv_packed(p, &loop, 0, input, filter, output, scratch);
    }
#else
    /* Two patch buffers, one per pixel of a pair (a model compiled with kernels="auto" has the
     * DSP path's scratch, whose start serves as well). */
    int8_t *scratch0 = reads_input_directly(p) ? NULL : scratch;
    int8_t *scratch1 = scratch0 ? scratch0 + loop.patch_size : NULL;
    const size_t input_batch_size = (size_t)p->input_h * p->input_w * p->input_c;
    const int32_t pixels = p->output_h * p->output_w;

    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * input_batch_size;
        int32_t out_y = 0, out_x = 0;
        int32_t pixel = 0;
        for (; pixel + 2 <= pixels; pixel += 2) {
            const int8_t *patch0 = pixel_patch(p, input_batch, out_y, out_x, scratch0);
            if (++out_x == p->output_w) {
                out_x = 0;
                out_y++;
            }
            const int8_t *patch1 = pixel_patch(p, input_batch, out_y, out_x, scratch1);
            if (++out_x == p->output_w) {
                out_x = 0;
                out_y++;
            }
            pixel_pair(&loop, patch0, patch1, filter, output, output + loop.output_c);
            output += 2 * loop.output_c;
        }
        if (pixel < pixels) {
            pixel_single(&loop, pixel_patch(p, input_batch, out_y, out_x, scratch0), filter,
                         output);
            output += loop.output_c;
        }
    }
#endif
}
