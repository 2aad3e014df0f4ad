/* Sizes of the test-only "spin" model (see hb_model.c). */
#ifndef HB_MODEL_CONFIG_H
#define HB_MODEL_CONFIG_H

#define HB_MODEL_ARENA_BYTES 16
#define HB_MODEL_INPUT_BYTES 4
#define HB_MODEL_OUTPUT_BYTES 4
#define HB_MODEL_NUM_INPUTS 1
#define HB_MODEL_NUM_OUTPUTS 1

#endif
