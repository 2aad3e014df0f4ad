/*
 * A test-only model that implements hb_model_api.h with checkable arithmetic
 * (tests/dut_fixtures/stub_model.py computes the same in Python):
 *   input  "x"      int8 [1,40] at arena offset 0
 *   output "folded" int8 [1,4]  at offset 40, scale 0.5,  zero point -3:
 *            folded[j] = low byte of the sum of x[i] over i % 4 == j
 *   output "sums"   int16 [1,2] at offset 44, scale 1/16, zero point 0 (so that printing
 *            them exercises the round-half-to-even rule of "%0.3f"):
 *            sums[0] = sum of x[i], sums[1] = sum of x[i] * w[i]
 * Like a real planner that reuses the input's bytes for intermediate tensors, it overwrites the
 * input (x[i] += 1) after reading it, so a DUT that does not re-copy its input before every
 * inference gives different outputs on the second run.
 */
#include <string.h>

#include "hb_model_api.h"
#include "hb_model_config.h"

extern const int8_t hb_stub_weights[40];

const char hb_model_name[] = "stub40";
const uint32_t hb_model_arena_bytes = HB_MODEL_ARENA_BYTES;
const uint32_t hb_model_num_inputs = HB_MODEL_NUM_INPUTS;
const uint32_t hb_model_num_outputs = HB_MODEL_NUM_OUTPUTS;

const hb_tensor_desc_t hb_model_inputs[HB_MODEL_NUM_INPUTS] = {
    {"x", HB_DTYPE_INT8, 2, {1, 40}, 0.1f, 0, 40, 0},
};

const hb_tensor_desc_t hb_model_outputs[HB_MODEL_NUM_OUTPUTS] = {
    {"folded", HB_DTYPE_INT8, 2, {1, 4}, 0.5f, -3, 4, 40},
    {"sums", HB_DTYPE_INT16, 2, {1, 2}, 0.0625f, 0, 4, 44},
};

int hb_model_invoke(uint8_t *arena)
{
    const int8_t *x = (const int8_t *)arena;
    int32_t folded[4] = {0, 0, 0, 0};
    int32_t sum = 0;
    int32_t weighted = 0;
    int16_t sums[2];
    int i;

    for (i = 0; i < 40; ++i) {
        folded[i % 4] += x[i];
        sum += x[i];
        weighted += x[i] * hb_stub_weights[i];
    }
    for (i = 0; i < 4; ++i) {
        arena[40 + i] = (uint8_t)(folded[i] & 0xFF);
    }
    sums[0] = (int16_t)sum;
    sums[1] = (int16_t)weighted;
    memcpy(arena + 44, sums, sizeof sums);
    for (i = 0; i < 40; ++i) {
        arena[i] = (uint8_t)(arena[i] + 1u);
    }
    return 0;
}
