/*
 * The int8 kernel library that compiled models call. One .c file per operator, named after it.
 *
 * Every kernel is a pure function of (const params struct, data pointers): the model compiler
 * (hilbench/compile) works out all shapes, paddings, offsets and fixed-point multipliers ahead
 * of time and emits the params as static const structs, so nothing is computed per call that
 * could have been computed once. No kernel allocates memory or keeps state.
 *
 * Offsets follow TFLite Micro: input_offset = -input_zero_point, output_offset =
 * +output_zero_point. act_min/act_max is the fused activation range in the output's integers.
 */
#ifndef HB_KERNELS_H
#define HB_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define HB_MAX_BROADCAST_DIMS 6

/* How CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED scale accumulators to int8 (the params'
 * `requantize` field, chosen per layer by the model compiler): GENERAL is tflite's
 * MultiplyByQuantizedMultiplier for any accumulator; NARROW gives the same integers in fewer
 * instructions when the compiler has proven that every accumulator of the layer stays under
 * 2^30 in magnitude and every shift is a right shift (hb_fixedpoint.h). */
#define HB_REQUANTIZE_GENERAL 0
#define HB_REQUANTIZE_NARROW 1

/* CONV_2D, int8 input/output, int8 filter (OHWI) with per-channel quantization, int32 bias. */
typedef struct {
    int32_t batches;
    int32_t input_h, input_w, input_c;
    int32_t filter_h, filter_w, filter_c; /* filter_c = input_c / groups */
    int32_t output_h, output_w, output_c;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    const int32_t *multiplier; /* per output channel */
    const int32_t *shift;      /* per output channel */
    /* Per output channel: bias + input_offset * sum(filter taps), folded ahead of time (exact in
     * 32-bit wrap-around arithmetic); used with zero-point padding, see conv_2d.c. */
    const int32_t *acc_init;
    int32_t requantize; /* HB_REQUANTIZE_GENERAL or HB_REQUANTIZE_NARROW */
    /* DSP kernels: 1 when the packed filter holds int16 pairs, 0 when it holds bytes. */
    int32_t filter_int16;
} hb_conv_params_t;
/* patch_scratch: 2 * filter_h * filter_w * input_c bytes of arena (two pixels' patches), or
 * NULL for a 1x1 convolution without padding (which reads its patches from the input). */
void hb_conv_2d_s8(const hb_conv_params_t *p, const int8_t *input, const int8_t *filter,
                   const int32_t *bias, int8_t *output, int8_t *patch_scratch);

/* DEPTHWISE_CONV_2D, int8, filter 1HWO with O = input_c * depth_multiplier, per-channel. */
typedef struct {
    int32_t batches;
    int32_t input_h, input_w, input_c;
    int32_t filter_h, filter_w;
    int32_t output_h, output_w, output_c;
    int32_t depth_multiplier;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    const int32_t *multiplier;
    const int32_t *shift;
    const int32_t *acc_init; /* per output channel: bias + input_offset * sum(filter taps) */
    int32_t requantize;      /* HB_REQUANTIZE_GENERAL or HB_REQUANTIZE_NARROW */
} hb_depthwise_conv_params_t;
/* pad_row: input_c bytes of arena scratch (filters of up to 64 taps), or NULL for the general
 * path. With the DSP kernels and depth multiplier 1 the filter is packed (layout.py). */
void hb_depthwise_conv_2d_s8(const hb_depthwise_conv_params_t *p, const int8_t *input,
                             const int8_t *filter, const int32_t *bias, int8_t *output,
                             int8_t *pad_row);
/* The 3x3 specialisation (its tap loop unrolled); pad_row required. */
void hb_depthwise_conv_2d_3x3_s8(const hb_depthwise_conv_params_t *p, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias, int8_t *output,
                                 int8_t *pad_row);

/* FULLY_CONNECTED, int8, filter [output_depth, accum_depth]; per-tensor or per-channel. */
typedef struct {
    int32_t batches, accum_depth, output_depth;
    int32_t filter_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel;       /* 0: multiplier[0]/shift[0] for all outputs */
    const int32_t *multiplier;
    const int32_t *shift;
    /* Per output: bias + input_offset * sum(filter row + filter_offset), folded ahead of time. */
    const int32_t *folded_bias;
    int32_t requantize; /* HB_REQUANTIZE_GENERAL or HB_REQUANTIZE_NARROW */
    /* DSP kernels: 1 when the packed filter holds int16 pairs, 0 when it holds bytes. */
    int32_t filter_int16;
} hb_fully_connected_params_t;
/* unpacked_input: accum_depth / 4 * 8 bytes of arena scratch where the DSP path keeps the
 * sign-extended input row, or NULL (the portable path never uses it). */
void hb_fully_connected_s8(const hb_fully_connected_params_t *p, const int8_t *input,
                           const int8_t *filter, int8_t *output, uint32_t *unpacked_input);

/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (input and output share quantization). */
typedef struct {
    int32_t batches;
    int32_t input_h, input_w, channels;
    int32_t filter_h, filter_w;
    int32_t output_h, output_w;
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t act_min, act_max;
} hb_pool_params_t;
void hb_average_pool_2d_s8(const hb_pool_params_t *p, const int8_t *input, int8_t *output);
void hb_max_pool_2d_s8(const hb_pool_params_t *p, const int8_t *input, int8_t *output);

/* ADD, int8 with TFLM's rescaling; broadcasting through strides (0 on broadcast dims). */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
    int32_t flat_size;  /* elements of the output */
    int32_t broadcast;  /* 0: same shapes, a flat loop */
    int32_t output_dims[HB_MAX_BROADCAST_DIMS];
    int32_t input1_strides[HB_MAX_BROADCAST_DIMS];
    int32_t input2_strides[HB_MAX_BROADCAST_DIMS];
} hb_add_params_t;
void hb_add_s8(const hb_add_params_t *p, const int8_t *input1, const int8_t *input2,
               int8_t *output);

/* SOFTMAX, int8 input, int8 (or int16) output, gemmlowp fixed-point exp path. */
typedef struct {
    int32_t outer_size, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} hb_softmax_params_t;
void hb_softmax_s8(const hb_softmax_params_t *p, const int8_t *input, int8_t *output);
void hb_softmax_s8_s16(const hb_softmax_params_t *p, const int8_t *input, int16_t *output);

/* LOGISTIC, int8 in/out (output scale 1/256, zero point -128). */
typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t input_range_radius;
    int32_t input_multiplier, input_left_shift;
} hb_logistic_params_t;
void hb_logistic_s8(const hb_logistic_params_t *p, const int8_t *input, int8_t *output);

/* MEAN over any set of axes, int8, as TFLM's reference QuantizedMeanOrSum. */
typedef struct {
    int32_t rank;
    int32_t input_dims[HB_MAX_BROADCAST_DIMS];
    int32_t reduced[HB_MAX_BROADCAST_DIMS]; /* 1 on reduced axes */
    int32_t output_size;
    int32_t num_elements_in_axis;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift; /* already include 1/num_elements_in_axis, as TFLM does */
} hb_mean_params_t;
/* scratch: output_size int32 accumulators inside the arena. */
void hb_mean_s8(const hb_mean_params_t *p, const int8_t *input, int8_t *output, int32_t *scratch);

/* PAD / PADV2 over up to 6 dims, any element size. */
typedef struct {
    int32_t rank;
    int32_t element_bytes;
    int32_t input_dims[HB_MAX_BROADCAST_DIMS];
    int32_t output_dims[HB_MAX_BROADCAST_DIMS];
    int32_t pad_before[HB_MAX_BROADCAST_DIMS];
    int32_t pad_value; /* int8 pad value (output zero point or constant_values) */
} hb_pad_params_t;
void hb_pad_s8(const hb_pad_params_t *p, const int8_t *input, int8_t *output);

/* CONCATENATION: outer_size blocks, each input contributes inner_bytes[i] per block. */
#define HB_MAX_CONCAT_INPUTS 16
typedef struct {
    int32_t num_inputs;
    int32_t outer_size;
    int32_t inner_bytes[HB_MAX_CONCAT_INPUTS];
} hb_concatenation_params_t;
void hb_concatenation(const hb_concatenation_params_t *p, const void *const *inputs, void *output);

/* QUANTIZE float32 -> int8, and int8 -> int8 requantization. */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} hb_quantize_params_t;
void hb_quantize_f32_s8(const hb_quantize_params_t *p, const float *input, int8_t *output);
typedef struct {
    int32_t size;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
} hb_requantize_params_t;
void hb_requantize_s8_s8(const hb_requantize_params_t *p, const int8_t *input, int8_t *output);

/* DEQUANTIZE int8 -> float32. */
typedef struct {
    int32_t size;
    double scale;
    int32_t zero_point;
} hb_dequantize_params_t;
void hb_dequantize_s8_f32(const hb_dequantize_params_t *p, const int8_t *input, float *output);

/* RESHAPE is an alias in the arena; this copy is used only when source and destination differ. */
void hb_reshape(const void *input, void *output, size_t bytes);

#endif
