/*
 * A test-only model whose cost is known to the instruction: it spins n times around a
 * two-instruction loop (subs; bne), n being its input (uint32, little-endian). So
 *   instructions(n2) - instructions(n1) = 2 * (n2 - n1)
 * exactly, which checks the whole chain from QEMU -icount through SysTick to
 * hilbench.deploy.qemu.instructions_from_ticks(). The output is n, echoed.
 */
#include <string.h>

#include "hb_model_api.h"
#include "hb_model_config.h"

const char hb_model_name[] = "spin";
const uint32_t hb_model_arena_bytes = HB_MODEL_ARENA_BYTES;
const uint32_t hb_model_num_inputs = HB_MODEL_NUM_INPUTS;
const uint32_t hb_model_num_outputs = HB_MODEL_NUM_OUTPUTS;

const hb_tensor_desc_t hb_model_inputs[HB_MODEL_NUM_INPUTS] = {
    {"n", HB_DTYPE_INT32, 1, {1}, 1.0f, 0, 4, 0},
};

const hb_tensor_desc_t hb_model_outputs[HB_MODEL_NUM_OUTPUTS] = {
    {"n_echo", HB_DTYPE_INT32, 1, {1}, 1.0f, 0, 4, 8},
};

int hb_model_invoke(uint8_t *arena)
{
    uint32_t n;
    memcpy(&n, arena, sizeof n);
    memcpy(arena + 8, &n, sizeof n);
    if (n != 0u) {
        __asm volatile(
            "1:\n\t"
            "subs %0, %0, #1\n\t"
            "bne 1b"
            : "+r"(n)
            :
            : "cc");
    }
    return 0;
}
