/* CONV_2D int8, per-channel quantized; same integers as TFLM reference_integer_ops::ConvPerChannel. */
#include "hb_dot.h"
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

/* Clip a filter axis to the taps that land inside the input, as [start, end) tap indices. */
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

/* Sum of filter * (input + tap_offset) over the given window of taps. Called with
 * tap_offset == 0 for interior pixels, where the offset is folded in afterwards. */
static inline int32_t window_dot(const hb_conv_params_t *p, const int8_t *input_g,
                                 const int8_t *filter_c, int32_t in_y_origin, int32_t in_x_origin,
                                 int32_t fy_start, int32_t fy_end, int32_t fx_start, int32_t fx_end,
                                 int32_t tap_offset) {
    const int32_t filter_row_stride = p->filter_w * p->filter_c;
    const int32_t input_row_stride = p->input_w * p->input_c;
    /* Without dilation or groups, a filter row's taps are one contiguous run in both the
     * input and the filter: one long dot product per row. */
    const int contiguous_row = p->dilation_w == 1 && p->filter_c == p->input_c;
    int32_t acc = 0;
    for (int32_t fy = fy_start; fy < fy_end; fy++) {
        const int32_t in_y = in_y_origin + fy * p->dilation_h;
        const int8_t *input_row = input_g + (size_t)in_y * input_row_stride;
        const int8_t *filter_row = filter_c + fy * filter_row_stride;
        if (contiguous_row) {
            const int8_t *f = filter_row + fx_start * p->filter_c;
            const int8_t *x = input_row + (size_t)(in_x_origin + fx_start) * p->input_c;
            const int32_t n = (fx_end - fx_start) * p->filter_c;
            acc += tap_offset ? hb_dot_s8_offset(f, x, n, tap_offset) : hb_dot_s8(f, x, n);
            continue;
        }
        for (int32_t fx = fx_start; fx < fx_end; fx++) {
            const int32_t in_x = in_x_origin + fx * p->dilation_w;
            const int8_t *x = input_row + (size_t)in_x * p->input_c;
            const int8_t *f = filter_row + fx * p->filter_c;
            acc += hb_dot_s8_offset(f, x, p->filter_c, tap_offset);
        }
    }
    return acc;
}

void hb_conv_2d_s8(const hb_conv_params_t *p, const int8_t *input, const int8_t *filter,
                   const int32_t *bias, int8_t *output) {
    const int32_t groups = p->input_c / p->filter_c;
    const int32_t channels_per_group = p->output_c / groups;
    const int32_t filter_channel_stride = p->filter_h * p->filter_w * p->filter_c;
    const int32_t input_row_stride = p->input_w * p->input_c;
    const int32_t input_offset = p->input_offset;

    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * p->input_h * input_row_stride;
        for (int32_t out_y = 0; out_y < p->output_h; out_y++) {
            const int32_t in_y_origin = out_y * p->stride_h - p->pad_h;
            int32_t fy_start, fy_end;
            valid_taps(in_y_origin, p->dilation_h, p->filter_h, p->input_h, &fy_start, &fy_end);
            for (int32_t out_x = 0; out_x < p->output_w; out_x++) {
                const int32_t in_x_origin = out_x * p->stride_w - p->pad_w;
                int32_t fx_start, fx_end;
                valid_taps(in_x_origin, p->dilation_w, p->filter_w, p->input_w, &fx_start, &fx_end);
                /* Inside the image every tap counts, so input_offset * sum(filter) is known ahead
                 * of time; at the border only the valid taps count. */
                const int interior = fy_start == 0 && fx_start == 0 && fy_end == p->filter_h &&
                                     fx_end == p->filter_w;
                for (int32_t out_c = 0; out_c < p->output_c; out_c++) {
                    const int32_t group = out_c / channels_per_group;
                    const int8_t *filter_c = filter + (size_t)out_c * filter_channel_stride;
                    const int8_t *input_g = input_batch + group * p->filter_c;
                    int32_t acc;
                    if (interior) {
                        acc = window_dot(p, input_g, filter_c, in_y_origin, in_x_origin, 0,
                                         p->filter_h, 0, p->filter_w, 0);
                        acc += input_offset * p->kernel_sum[out_c];
                    } else {
                        acc = window_dot(p, input_g, filter_c, in_y_origin, in_x_origin, fy_start,
                                         fy_end, fx_start, fx_end, input_offset);
                    }
                    if (bias) {
                        acc += bias[out_c];
                    }
                    acc = hb_mul_by_quantized_multiplier(acc, p->multiplier[out_c], p->shift[out_c]);
                    acc += p->output_offset;
                    *output++ = (int8_t)hb_clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}
