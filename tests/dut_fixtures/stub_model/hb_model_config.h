/* Sizes of the test-only stub model (hand-written, in the form the model compiler generates). */
#ifndef HB_MODEL_CONFIG_H
#define HB_MODEL_CONFIG_H

#define HB_MODEL_ARENA_BYTES 48
#define HB_MODEL_INPUT_BYTES 40
#define HB_MODEL_OUTPUT_BYTES 8
#define HB_MODEL_NUM_INPUTS 1
#define HB_MODEL_NUM_OUTPUTS 2

#endif
