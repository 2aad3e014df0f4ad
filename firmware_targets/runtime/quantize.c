/* QUANTIZE float32 -> int8 (reference_ops::AffineQuantize) and int8 -> int8 (Requantize). */
#include <math.h>

#include "hb_fixedpoint.h"
#include "hb_kernels.h"

void hb_quantize_f32_s8(const hb_quantize_params_t *p, const float *input, int8_t *output) {
    for (int32_t i = 0; i < p->size; i++) {
        /* TfLiteRound is round-half-away-from-zero, as roundf. Clamp in float first so that
         * out-of-range values saturate instead of overflowing the int conversion. */
        float scaled = roundf(input[i] / p->scale);
        if (scaled > 2147483520.0f) {
            scaled = 2147483520.0f;
        } else if (!(scaled >= -2147483648.0f)) {
            scaled = -2147483648.0f;
        }
        const int32_t value = (int32_t)scaled + p->zero_point;
        output[i] = (int8_t)hb_clamp_i32(value, INT8_MIN, INT8_MAX);
    }
}

void hb_requantize_s8_s8(const hb_requantize_params_t *p, const int8_t *input, int8_t *output) {
    for (int32_t i = 0; i < p->size; i++) {
        const int32_t x = (int32_t)input[i] - p->input_zero_point;
        const int32_t value = hb_mul_by_quantized_multiplier(x, p->multiplier, p->shift) +
                              p->output_zero_point;
        output[i] = (int8_t)hb_clamp_i32(value, INT8_MIN, INT8_MAX);
    }
}
