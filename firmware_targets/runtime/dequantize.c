/* DEQUANTIZE int8 -> float32; same arithmetic as TFLM reference_ops::Dequantize (double scale). */
#include "hb_kernels.h"

void hb_dequantize_s8_f32(const hb_dequantize_params_t *p, const int8_t *input, float *output) {
    for (int32_t i = 0; i < p->size; i++) {
        output[i] = (float)(p->scale * (double)((int32_t)input[i] - p->zero_point));
    }
}
