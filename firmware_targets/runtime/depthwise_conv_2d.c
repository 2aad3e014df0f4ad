/* DEPTHWISE_CONV_2D int8, per-channel; same integers as TFLM reference_integer_ops::DepthwiseConvPerChannel. */
#include "hb_dot.h"
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

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
    acc = hb_mul_by_quantized_multiplier(acc, p->multiplier[c], p->shift[c]) + p->output_offset;
    return (int8_t)hb_clamp_i32(acc, p->act_min, p->act_max);
}

/* Depth multiplier 1 (output channel c reads input channel c), four channels at a time in
 * registers. Inside the image, input_offset * sum(filter) is precomputed (tap_offset 0); at the
 * border only valid taps count, so the offset is added per tap. */
static inline void pixel_multiplier_1(const hb_depthwise_conv_params_t *p,
                                      const int8_t *input_batch, const int8_t *filter,
                                      const int32_t *bias, int32_t in_y_origin,
                                      int32_t in_x_origin, int32_t fy_start, int32_t fy_end,
                                      int32_t fx_start, int32_t fx_end, int32_t tap_offset,
                                      int8_t *output) {
    const int32_t channels = p->output_c;
    const int fold = tap_offset == 0;
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (int32_t fy = fy_start; fy < fy_end; fy++) {
            const int32_t in_y = in_y_origin + fy * p->dilation_h;
            const int8_t *x_row = input_batch + (size_t)in_y * p->input_w * channels + c;
            const int8_t *f_row = filter + (size_t)fy * p->filter_w * channels + c;
            for (int32_t fx = fx_start; fx < fx_end; fx++) {
                const int8_t *x = x_row + (size_t)(in_x_origin + fx * p->dilation_w) * channels;
                const int8_t *f = f_row + (size_t)fx * channels;
                if (fold) {
                    hb_mac4_s8(x, f, &acc0, &acc1, &acc2, &acc3);
                } else {
                    acc0 += (int32_t)f[0] * ((int32_t)x[0] + tap_offset);
                    acc1 += (int32_t)f[1] * ((int32_t)x[1] + tap_offset);
                    acc2 += (int32_t)f[2] * ((int32_t)x[2] + tap_offset);
                    acc3 += (int32_t)f[3] * ((int32_t)x[3] + tap_offset);
                }
            }
        }
        if (fold) {
            acc0 += p->input_offset * p->kernel_sum[c];
            acc1 += p->input_offset * p->kernel_sum[c + 1];
            acc2 += p->input_offset * p->kernel_sum[c + 2];
            acc3 += p->input_offset * p->kernel_sum[c + 3];
        }
        if (bias) {
            acc0 += bias[c];
            acc1 += bias[c + 1];
            acc2 += bias[c + 2];
            acc3 += bias[c + 3];
        }
        output[c] = requantize(p, acc0, c);
        output[c + 1] = requantize(p, acc1, c + 1);
        output[c + 2] = requantize(p, acc2, c + 2);
        output[c + 3] = requantize(p, acc3, c + 3);
    }
    for (; c < channels; c++) {
        int32_t acc = 0;
        for (int32_t fy = fy_start; fy < fy_end; fy++) {
            const int32_t in_y = in_y_origin + fy * p->dilation_h;
            for (int32_t fx = fx_start; fx < fx_end; fx++) {
                const int32_t in_x = in_x_origin + fx * p->dilation_w;
                const int32_t x = input_batch[((size_t)in_y * p->input_w + in_x) * channels + c];
                const int32_t f = filter[((size_t)fy * p->filter_w + fx) * channels + c];
                acc += f * (x + tap_offset);
            }
        }
        if (fold) {
            acc += p->input_offset * p->kernel_sum[c];
        }
        output[c] = requantize(p, bias ? acc + bias[c] : acc, c);
    }
}

/* Any depth multiplier: output channel in_c * multiplier + m reads input channel in_c. */
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

void hb_depthwise_conv_2d_s8(const hb_depthwise_conv_params_t *p, const int8_t *input,
                             const int8_t *filter, const int32_t *bias, int8_t *output) {
    const size_t input_batch_size = (size_t)p->input_h * p->input_w * p->input_c;
    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * input_batch_size;
        for (int32_t out_y = 0; out_y < p->output_h; out_y++) {
            const int32_t in_y_origin = out_y * p->stride_h - p->pad_h;
            int32_t fy_start, fy_end;
            valid_taps(in_y_origin, p->dilation_h, p->filter_h, p->input_h, &fy_start, &fy_end);
            for (int32_t out_x = 0; out_x < p->output_w; out_x++) {
                const int32_t in_x_origin = out_x * p->stride_w - p->pad_w;
                int32_t fx_start, fx_end;
                valid_taps(in_x_origin, p->dilation_w, p->filter_w, p->input_w, &fx_start, &fx_end);
                const int interior = fy_start == 0 && fx_start == 0 && fy_end == p->filter_h &&
                                     fx_end == p->filter_w;
                if (p->depth_multiplier == 1 && interior) {
                    pixel_multiplier_1(p, input_batch, filter, bias, in_y_origin, in_x_origin,
                                       0, p->filter_h, 0, p->filter_w, 0, output);
                } else if (p->depth_multiplier == 1) {
                    pixel_multiplier_1(p, input_batch, filter, bias, in_y_origin, in_x_origin,
                                       fy_start, fy_end, fx_start, fx_end, p->input_offset,
                                       output);
                } else {
                    pixel_any_multiplier(p, input_batch, filter, bias, in_y_origin, in_x_origin,
                                         fy_start, fy_end, fx_start, fx_end, output);
                }
                output += p->output_c;
            }
        }
    }
}
