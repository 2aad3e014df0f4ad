/* CONCATENATION: interleave the inputs' blocks (inputs and output share quantization). */
#include <string.h>

#include "hb_kernels.h"

void hb_concatenation(const hb_concatenation_params_t *p, const void *const *inputs, void *output) {
    uint8_t *out = (uint8_t *)output;
    for (int32_t outer = 0; outer < p->outer_size; outer++) {
        for (int32_t i = 0; i < p->num_inputs; i++) {
            const size_t bytes = (size_t)p->inner_bytes[i];
            memcpy(out, (const uint8_t *)inputs[i] + (size_t)outer * bytes, bytes);
            out += bytes;
        }
    }
}
