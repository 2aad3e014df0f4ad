/* MAX_POOL_2D int8; same integers as TFLM reference_integer_ops::MaxPool. */
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

void hb_max_pool_2d_s8(const hb_pool_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t input_row_stride = p->input_w * p->channels;
    for (int32_t batch = 0; batch < p->batches; batch++) {
        const int8_t *input_batch = input + (size_t)batch * p->input_h * input_row_stride;
        for (int32_t out_y = 0; out_y < p->output_h; out_y++) {
            const int32_t in_y_origin = out_y * p->stride_h - p->pad_h;
            const int32_t fy_start = hb_max_i32(0, -in_y_origin);
            const int32_t fy_end = hb_min_i32(p->filter_h, p->input_h - in_y_origin);
            for (int32_t out_x = 0; out_x < p->output_w; out_x++) {
                const int32_t in_x_origin = out_x * p->stride_w - p->pad_w;
                const int32_t fx_start = hb_max_i32(0, -in_x_origin);
                const int32_t fx_end = hb_min_i32(p->filter_w, p->input_w - in_x_origin);
                for (int32_t c = 0; c < p->channels; c++) {
                    int32_t max = INT8_MIN;
                    for (int32_t fy = fy_start; fy < fy_end; fy++) {
                        const int8_t *row = input_batch +
                                            (size_t)(in_y_origin + fy) * input_row_stride + c;
                        for (int32_t fx = fx_start; fx < fx_end; fx++) {
                            max = hb_max_i32(max, row[(in_x_origin + fx) * p->channels]);
                        }
                    }
                    *output++ = (int8_t)hb_clamp_i32(max, p->act_min, p->act_max);
                }
            }
        }
    }
}
