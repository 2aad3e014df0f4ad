/*
 * The interface between an ahead-of-time compiled model and the firmware that runs it.
 *
 * The model compiler (hilbench/compile) emits, per model:
 *   hb_model_config.h  - compile-time sizes (arena, input and output bytes) as macros
 *   hb_model.c         - the tensor descriptors and hb_model_invoke(): straight-line kernel calls
 *   hb_model_data.c    - the weights and biases as const, aligned arrays (they live in flash)
 *
 * Memory is owned by the caller: the firmware gives hb_model_invoke() one arena of
 * HB_MODEL_ARENA_BYTES bytes, aligned to 16. Input tensors are written at
 * arena + hb_model_inputs[i].arena_offset before each invoke, and outputs are read at
 * arena + hb_model_outputs[i].arena_offset after it. The planner may reuse an input's bytes
 * for intermediate tensors, so the caller must re-write the input before every invoke.
 * There is no heap and no global mutable state.
 */
#ifndef HB_MODEL_API_H
#define HB_MODEL_API_H

#include <stddef.h>
#include <stdint.h>

#define HB_MAX_DIMS 6

typedef enum {
    HB_DTYPE_INT8 = 0,
    HB_DTYPE_UINT8 = 1,
    HB_DTYPE_INT16 = 2,
    HB_DTYPE_INT32 = 3,
    HB_DTYPE_FLOAT32 = 4,
} hb_dtype_t;

typedef struct {
    const char *name;
    hb_dtype_t dtype;
    uint8_t rank;
    int32_t dims[HB_MAX_DIMS];
    float scale;
    int32_t zero_point;
    uint32_t bytes;
    uint32_t arena_offset;
} hb_tensor_desc_t;

extern const char hb_model_name[];
extern const uint32_t hb_model_arena_bytes;
extern const uint32_t hb_model_num_inputs;
extern const uint32_t hb_model_num_outputs;
extern const hb_tensor_desc_t hb_model_inputs[];
extern const hb_tensor_desc_t hb_model_outputs[];

/* Runs one inference in place. Returns 0 on success. */
int hb_model_invoke(uint8_t *arena);

#endif
