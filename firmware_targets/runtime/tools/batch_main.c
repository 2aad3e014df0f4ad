/*
 * Host test runner for a compiled model: reads N inferences' worth of raw input bytes from
 * stdin (each inference: every input tensor in order, HB_MODEL_INPUT_BYTES in all), runs
 * hb_model_invoke() once per inference and writes the raw output bytes to stdout (each
 * inference: every output tensor in order, HB_MODEL_OUTPUT_BYTES in all).
 * Exit status: 0 on success, 2 on a short read, 3 if the model reports an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hb_model_api.h"
#include "hb_model_config.h"

/* The caller owns the arena; in this tool it is one static block, aligned as the API needs. */
static uint8_t arena[HB_MODEL_ARENA_BYTES] __attribute__((aligned(16)));

int main(void) {
    static uint8_t input[HB_MODEL_INPUT_BYTES];
    static uint8_t output[HB_MODEL_OUTPUT_BYTES];
    for (;;) {
        const size_t got = fread(input, 1, sizeof input, stdin);
        if (got == 0 && feof(stdin)) {
            break;
        }
        if (got != sizeof input) {
            fprintf(stderr, "batch_main: short input: %zu of %u bytes\n", got,
                    (unsigned)HB_MODEL_INPUT_BYTES);
            return 2;
        }
        /* Inputs are re-written before every invoke: the planner may reuse their bytes. */
        size_t offset = 0;
        for (uint32_t i = 0; i < hb_model_num_inputs; i++) {
            memcpy(arena + hb_model_inputs[i].arena_offset, input + offset,
                   hb_model_inputs[i].bytes);
            offset += hb_model_inputs[i].bytes;
        }
        if (hb_model_invoke(arena) != 0) {
            fprintf(stderr, "batch_main: hb_model_invoke failed\n");
            return 3;
        }
        offset = 0;
        for (uint32_t i = 0; i < hb_model_num_outputs; i++) {
            memcpy(output + offset, arena + hb_model_outputs[i].arena_offset,
                   hb_model_outputs[i].bytes);
            offset += hb_model_outputs[i].bytes;
        }
        if (fwrite(output, 1, sizeof output, stdout) != sizeof output) {
            return 2;
        }
    }
    return 0;
}
