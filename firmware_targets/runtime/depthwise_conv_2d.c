/* DEPTHWISE_CONV_2D int8, per-channel; same integers as TFLM reference_integer_ops::DepthwiseConvPerChannel. */
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

void hb_depthwise_conv_2d_s8(const hb_depthwise_conv_params_t *p, const int8_t *input,
                             const int8_t *filter, const int32_t *bias, int8_t *output) {
    const int32_t input_row_stride = p->input_w * p->input_c;
    const int32_t filter_row_stride = p->filter_w * p->output_c;
    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * p->input_h * input_row_stride;
        for (int32_t out_y = 0; out_y < p->output_h; out_y++) {
            const int32_t in_y_origin = out_y * p->stride_h - p->pad_h;
            int32_t fy_start = 0, fy_end = p->filter_h;
            while (fy_start < fy_end && in_y_origin + fy_start * p->dilation_h < 0) {
                fy_start++;
            }
            while (fy_end > fy_start && in_y_origin + (fy_end - 1) * p->dilation_h >= p->input_h) {
                fy_end--;
            }
            for (int32_t out_x = 0; out_x < p->output_w; out_x++) {
                const int32_t in_x_origin = out_x * p->stride_w - p->pad_w;
                int32_t fx_start = 0, fx_end = p->filter_w;
                while (fx_start < fx_end && in_x_origin + fx_start * p->dilation_w < 0) {
                    fx_start++;
                }
                while (fx_end > fx_start &&
                       in_x_origin + (fx_end - 1) * p->dilation_w >= p->input_w) {
                    fx_end--;
                }
                for (int32_t in_c = 0; in_c < p->input_c; in_c++) {
                    for (int32_t m = 0; m < p->depth_multiplier; m++) {
                        const int32_t out_c = m + in_c * p->depth_multiplier;
                        int32_t acc = 0;
                        for (int32_t fy = fy_start; fy < fy_end; fy++) {
                            const int32_t in_y = in_y_origin + fy * p->dilation_h;
                            const int8_t *input_row =
                                input_batch + (size_t)in_y * input_row_stride + in_c;
                            const int8_t *filter_row = filter + fy * filter_row_stride + out_c;
                            for (int32_t fx = fx_start; fx < fx_end; fx++) {
                                const int32_t in_x = in_x_origin + fx * p->dilation_w;
                                acc += (int32_t)filter_row[fx * p->output_c] *
                                       ((int32_t)input_row[in_x * p->input_c] + p->input_offset);
                            }
                        }
                        if (bias) {
                            acc += bias[out_c];
                        }
                        acc = hb_mul_by_quantized_multiplier(acc, p->multiplier[out_c],
                                                             p->shift[out_c]);
                        acc += p->output_offset;
                        output[out_c] = (int8_t)hb_clamp_i32(acc, p->act_min, p->act_max);
                    }
                }
                output += p->output_c;
            }
        }
    }
}
