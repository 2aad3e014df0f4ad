/* CONV_2D int8, per-channel quantized; same integers as TFLM reference_integer_ops::ConvPerChannel.
 *
 * Each output pixel's receptive field (its "patch": filter_h x filter_w x input_c values) is
 * gathered into one contiguous buffer, with padded taps set to the input zero point, so that
 * every output channel is a single dot product of the patch with that channel's filter (OHWI
 * filters are contiguous per channel):
 *     sum over taps of f * (x + input_offset) = dot(f, patch) + input_offset * sum(f)
 * since padded taps hold x = -input_offset and contribute nothing. sum(f) is precomputed.
 * 1x1 convolutions without padding use the input pixel itself as the patch. Several output
 * channels share each pass over the patch.
 */
#include <string.h>

#include "hb_dot.h"
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

static inline int8_t requantize(int32_t acc, int32_t multiplier, int32_t shift,
                                int32_t output_offset, int32_t act_min, int32_t act_max) {
    acc = hb_mul_by_quantized_multiplier(acc, multiplier, shift) + output_offset;
    return (int8_t)hb_clamp_i32(acc, act_min, act_max);
}

/* Copy the patch of the output pixel whose window starts at (in_y_origin, in_x_origin). */
static void gather_patch(const hb_conv_params_t *p, const int8_t *input_batch, int32_t in_y_origin,
                         int32_t in_x_origin, int8_t pad_value, int8_t *patch) {
    const size_t pixel_bytes = (size_t)p->input_c;
    for (int32_t fy = 0; fy < p->filter_h; fy++) {
        const int32_t in_y = in_y_origin + fy * p->dilation_h;
        const int row_inside = in_y >= 0 && in_y < p->input_h;
        const int8_t *input_row = input_batch + (size_t)in_y * p->input_w * pixel_bytes;
        if (row_inside && p->dilation_w == 1 && in_x_origin >= 0 &&
            in_x_origin + p->filter_w <= p->input_w) {
            /* The whole filter row is inside the image: one contiguous copy. */
            memcpy(patch, input_row + (size_t)in_x_origin * pixel_bytes,
                   (size_t)p->filter_w * pixel_bytes);
            patch += (size_t)p->filter_w * pixel_bytes;
            continue;
        }
        for (int32_t fx = 0; fx < p->filter_w; fx++) {
            const int32_t in_x = in_x_origin + fx * p->dilation_w;
            if (row_inside && in_x >= 0 && in_x < p->input_w) {
                memcpy(patch, input_row + (size_t)in_x * pixel_bytes, pixel_bytes);
            } else {
                memset(patch, pad_value, pixel_bytes);
            }
            patch += pixel_bytes;
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
                    *output++ = requantize(acc, p->multiplier[out_c], p->shift[out_c],
                                           p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}

void hb_conv_2d_s8(const hb_conv_params_t *p, const int8_t *input, const int8_t *filter,
                   const int32_t *bias, int8_t *output, int8_t *patch_scratch) {
    if (p->filter_c != p->input_c) {
        conv_grouped(p, input, filter, bias, output);
        return;
    }
    /* Copies of the parameters the loops use: stores through int8_t pointers may alias the
     * params struct as far as the compiler knows, and locals keep them in registers. */
    const int32_t output_c = p->output_c;
    const int32_t patch_size = p->filter_h * p->filter_w * p->input_c;
    const int32_t input_offset = p->input_offset;
    const int32_t output_offset = p->output_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t *multiplier = p->multiplier;
    const int32_t *shift = p->shift;
    const int32_t *kernel_sum = p->kernel_sum;
    const int direct = patch_scratch == NULL; /* 1x1, no padding: the pixel is the patch */
    const int8_t pad_value = (int8_t)(-input_offset);
    const size_t input_batch_size = (size_t)p->input_h * p->input_w * p->input_c;

    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * input_batch_size;
        for (int32_t out_y = 0; out_y < p->output_h; out_y++) {
            const int32_t in_y_origin = out_y * p->stride_h - p->pad_h;
            for (int32_t out_x = 0; out_x < p->output_w; out_x++) {
                const int32_t in_x_origin = out_x * p->stride_w - p->pad_w;
                const int8_t *patch;
                if (direct) {
                    patch = input_batch +
                            ((size_t)in_y_origin * p->input_w + in_x_origin) * p->input_c;
                } else {
                    gather_patch(p, input_batch, in_y_origin, in_x_origin, pad_value,
                                 patch_scratch);
                    patch = patch_scratch;
                }
                int32_t out_c = 0;
#if !defined(HB_DOT_USE_DSP)
                /* Four channels per pass pays off in plain C; with SMLAD, four accumulators
                 * plus the unpacked operands spill registers on Cortex-M4, so two it is. */
                for (; out_c + 4 <= output_c; out_c += 4) {
                    int32_t acc[4];
                    for (int32_t k = 0; k < 4; k++) {
                        acc[k] = input_offset * kernel_sum[out_c + k] +
                                 (bias ? bias[out_c + k] : 0);
                    }
                    hb_dot4_s8(patch, filter + (size_t)out_c * patch_size, patch_size, patch_size,
                               acc);
                    for (int32_t k = 0; k < 4; k++) {
                        output[out_c + k] = requantize(acc[k], multiplier[out_c + k],
                                                       shift[out_c + k], output_offset, act_min,
                                                       act_max);
                    }
                }
#endif
                for (; out_c + 2 <= output_c; out_c += 2) {
                    const int8_t *f0 = filter + (size_t)out_c * patch_size;
                    int32_t acc0 = input_offset * kernel_sum[out_c];
                    int32_t acc1 = input_offset * kernel_sum[out_c + 1];
                    if (bias) {
                        acc0 += bias[out_c];
                        acc1 += bias[out_c + 1];
                    }
                    hb_dot2_s8(patch, f0, f0 + patch_size, patch_size, &acc0, &acc1);
                    output[out_c] = requantize(acc0, multiplier[out_c], shift[out_c],
                                               output_offset, act_min, act_max);
                    output[out_c + 1] = requantize(acc1, multiplier[out_c + 1], shift[out_c + 1],
                                                   output_offset, act_min, act_max);
                }
                if (out_c < output_c) {
                    int32_t acc = input_offset * kernel_sum[out_c] + (bias ? bias[out_c] : 0);
                    acc += hb_dot_s8(filter + (size_t)out_c * patch_size, patch, patch_size);
                    output[out_c] = requantize(acc, multiplier[out_c], shift[out_c],
                                               output_offset, act_min, act_max);
                }
                output += output_c;
            }
        }
    }
}
