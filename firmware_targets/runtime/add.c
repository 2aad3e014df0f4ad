/* ADD int8; same integers as TFLM reference_integer_ops::Add / BroadcastAdd6DSlow. */
#include "hb_fixedpoint.h"
#include "hb_kernels.h"

static inline int8_t add_one(const hb_add_params_t *p, int8_t x, int8_t y) {
    const int32_t shifted1 = (p->input1_offset + x) * (1 << p->left_shift);
    const int32_t shifted2 = (p->input2_offset + y) * (1 << p->left_shift);
    const int32_t scaled1 =
        hb_mul_by_quantized_multiplier(shifted1, p->input1_multiplier, p->input1_shift);
    const int32_t scaled2 =
        hb_mul_by_quantized_multiplier(shifted2, p->input2_multiplier, p->input2_shift);
    const int32_t raw_output = hb_mul_by_quantized_multiplier(scaled1 + scaled2,
                                                              p->output_multiplier,
                                                              p->output_shift) +
                               p->output_offset;
    return (int8_t)hb_clamp_i32(raw_output, p->act_min, p->act_max);
}

void hb_add_s8(const hb_add_params_t *p, const int8_t *input1, const int8_t *input2,
               int8_t *output) {
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->flat_size; i++) {
            output[i] = add_one(p, input1[i], input2[i]);
        }
        return;
    }
    /* Walk the output in order with an odometer over its dims; each input advances by its
     * own stride (0 along dims it is broadcast on). */
    const int32_t last = HB_MAX_BROADCAST_DIMS - 1;
    int32_t index[HB_MAX_BROADCAST_DIMS] = {0};
    size_t offset1 = 0, offset2 = 0;
    for (int32_t i = 0; i < p->flat_size; i++) {
        output[i] = add_one(p, input1[offset1], input2[offset2]);
        for (int32_t d = last; d >= 0; d--) {
            index[d]++;
            offset1 += p->input1_strides[d];
            offset2 += p->input2_strides[d];
            if (index[d] < p->output_dims[d]) {
                break;
            }
            offset1 -= (size_t)p->input1_strides[d] * p->output_dims[d];
            offset2 -= (size_t)p->input2_strides[d] * p->output_dims[d];
            index[d] = 0;
        }
    }
}
