"""Fixed-point parameters computed exactly as TFLite Micro's Prepare() computes them.

Every function here mirrors one in tflite's quantization_util.cc or kernel_util.cc, including
its float32-versus-double arithmetic, because a one-ulp difference in a multiplier is enough
to change output bytes. Scales arrive as numpy float32 (as stored in the flatbuffer).
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def tflite_round(value: float) -> int:
    """std::round: to nearest, halves away from zero (Python's round() would go to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = multiplier * 2^(shift-31), multiplier in [2^30, 2^31)."""
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    q_fixed = tflite_round(fraction * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if q_fixed > 0x7FFFFFFF:
        raise ValueError(f"multiplier {real_multiplier} does not fit in 32 bits")
    return q_fixed, shift


def quantize_multiplier_smaller_than_one(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: the shift is <= 0."""
    if not 0.0 < real_multiplier < 1.0:
        raise ValueError(f"multiplier {real_multiplier} is not in (0, 1)")
    multiplier, shift = quantize_multiplier(real_multiplier)
    return multiplier, shift


def quantize_multiplier_greater_than_one(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne: the shift is >= 0."""
    if not real_multiplier > 1.0:
        raise ValueError(f"multiplier {real_multiplier} is not > 1")
    return quantize_multiplier(real_multiplier)


def per_channel_multipliers(input_scale: np.float32, filter_scales: np.ndarray,
                            output_scale: np.float32, channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams (conv, depthwise, per-channel FC), in double."""
    multipliers, shifts = [], []
    for channel in range(channels):
        filter_scale = float(filter_scales[channel if len(filter_scales) > 1 else 0])
        effective = float(input_scale) * filter_scale / float(output_scale)
        multiplier, shift = quantize_multiplier(effective)
        multipliers.append(multiplier)
        shifts.append(shift)
    return multipliers, shifts


def per_tensor_conv_multiplier(input_scale: np.float32, filter_scale: np.float32,
                               output_scale: np.float32) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: the scale product is taken in float32, then double."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(output_scale))


def activation_range(activation: str, scale: np.float32, zero_point: int,
                     qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the fused activation's bounds in output integers."""

    def quantize(value: float) -> int:
        return zero_point + tflite_round(float(np.float32(value) / np.float32(scale)))

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise ValueError(f"fused activation {activation} is not supported")


def compute_out_size(padding: str, image_size: int, filter_size: int, stride: int,
                     dilation: int) -> int:
    """ComputeOutSize from tflite padding.h."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (image_size + stride - 1) // stride
    return (image_size + stride - effective) // stride


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int,
                    out_size: int) -> int:
    """ComputePaddingWithOffset: the leading padding (the odd pixel goes at the end)."""
    effective = (filter_size - 1) * dilation + 1
    total = max(0, (out_size - 1) * stride + effective - in_size)
    return total // 2


def softmax_params(beta: float, input_scale: np.float32) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius for int8 input (5 integer bits)."""
    scaled_diff_integer_bits = 5
    max_real_multiplier = float((1 << 31) - 1)
    real = min(beta * float(input_scale) * (1 << (31 - scaled_diff_integer_bits)),
               max_real_multiplier)
    multiplier, left_shift = quantize_multiplier_greater_than_one(real)
    diff_min = -input_radius(scaled_diff_integer_bits, left_shift)
    return multiplier, left_shift, diff_min


def input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius."""
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1)
                          * (1 << (total_signed_bits - input_integer_bits))
                          / (1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


def logistic_params(input_scale: np.float32) -> tuple[int, int, int]:
    """CalculateArithmeticOpDataLogistic for int8: (multiplier, left_shift, range_radius).

    Note TFLM rounds q * 2^31 here without QuantizeMultiplier's 2^31 overflow guard.
    """
    input_integer_bits = 4
    real = float(input_scale) * float(1 << (31 - input_integer_bits))
    fraction, left_shift = math.frexp(real)
    multiplier = tflite_round(fraction * (1 << 31))
    # Stored in an int32_t: 2^31 would wrap to INT32_MIN, as it does in C.
    if multiplier >= 1 << 31:
        multiplier -= 1 << 32
    radius = input_radius(input_integer_bits, left_shift, 31)
    return multiplier, left_shift, radius


def mean_multiplier(input_scale: np.float32, output_scale: np.float32,
                    num_elements_in_axis: int) -> tuple[int, int]:
    """QuantizedMeanOrSum's multiplier, with 1/num_elements folded in as TFLM does."""
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    bits = num_elements_in_axis.bit_length() - 1  # 63 - CountLeadingZeros(n) = floor(log2 n)
    bits = min(bits, 32)
    bits = min(bits, 31 + shift)
    folded = (multiplier << bits) // num_elements_in_axis  # both positive: C division agrees
    folded = ((folded + (1 << 31)) % (1 << 32)) - (1 << 31)  # static_cast<int32_t>
    return folded, shift - bits


def add_params(input1_scale: np.float32, input2_scale: np.float32,
               output_scale: np.float32) -> dict[str, int]:
    """CalculateOpDataAdd for int8 (left_shift 20)."""
    left_shift = 20
    twice_max_input_scale = 2 * float(max(np.float32(input1_scale), np.float32(input2_scale)))
    real_input1 = float(input1_scale) / twice_max_input_scale
    real_input2 = float(input2_scale) / twice_max_input_scale
    real_output = twice_max_input_scale / ((1 << left_shift) * float(output_scale))
    input1_multiplier, input1_shift = quantize_multiplier_smaller_than_one(real_input1)
    input2_multiplier, input2_shift = quantize_multiplier_smaller_than_one(real_input2)
    output_multiplier, output_shift = quantize_multiplier_smaller_than_one(real_output)
    return {
        "left_shift": left_shift,
        "input1_multiplier": input1_multiplier, "input1_shift": input1_shift,
        "input2_multiplier": input2_multiplier, "input2_shift": input2_shift,
        "output_multiplier": output_multiplier, "output_shift": output_shift,
    }


def narrow_requantization(shifts, bias, filter_rows: np.ndarray, filter_offset: int,
                          input_zero_point: int) -> bool:
    """Whether a layer can use HB_REQUANTIZE_NARROW (firmware_targets/runtime/hb_fixedpoint.h):
    every shift a right shift, and every accumulator under 2^30 in magnitude whatever the int8
    input. filter_rows: [output channels, taps]; the accumulator is bias + sum over taps of
    (filter + filter_offset) * (x - input_zero_point), with x in [-128, 127]."""
    if any(shift > -1 for shift in shifts):
        return False
    widest_input = max(INT8_MAX - input_zero_point, input_zero_point - INT8_MIN)
    weights = np.abs(filter_rows.astype(np.int64) + filter_offset).sum(axis=1)
    bias_values = np.abs(np.asarray(bias, dtype=np.int64)) if bias is not None else 0
    return bool(np.all(bias_values + weights * widest_input < (1 << 30)))
