"""What MLPerf Tiny's reference firmware takes on ``db`` and prints on ``results``, per model id.

The benchmark's DUT protocol moves bytes; what the bytes mean is each reference firmware's own
``th_load_tensor()`` and ``th_results()``
(``benchmark/reference_submissions/*/submitter_implemented.cpp`` in mlcommons/tiny), and the
benchmark's runner sends its dataset files' bytes as they are:

| model id | ``db`` bytes | the firmware makes the int8 input | ``results`` prints |
|---|---|---|---|
| ``kws01`` | the int8 input tensor | as it is | the output tensor, dequantized, ``%0.3f`` |
| ``vww01`` | uint8 pixels | pixel - 128 | the 2 outputs, dequantized, ``%0.3f``, each followed by ``,`` |
| ``ic01`` | uint8 pixels | pixel - 128 | the 10 outputs, dequantized, ``%0.3f`` |
| ``ad01`` | 640 float32 features | ``round(x / scale) + zero_point``, clamped | one anomaly score: the mean squared error between the dequantized output and the float features, ``%0.3f`` |

Any other model (a zoo model, a user's .tflite on a plain DUT) takes its input tensor's bytes
and prints its outputs, as kws01 does. Everything that encodes an input for ``db`` or decodes
a ``results`` line uses this table: the host's ``db`` path, the runner-layout dataset reader,
and the firmware's generated configuration (``HB_MODEL_DB_FORMAT``, ``HB_MODEL_RESULTS``).
hilbench's binary channels (``hb bulk``, ``hb file``, ``hb raw``) always carry the tensors.

Followed: ``th_load_tensor`` and ``th_results`` in mlcommons/tiny
``benchmark/reference_submissions/{anomaly_detection,person_detection}/submitter_implemented.cpp``
at 154f3bd3 and ``image_classification/submitter_implemented.cpp`` at bbc1df99.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# What the bytes of 'db' hold.
INPUT_TENSOR, UINT8_PIXELS, FLOAT32_FEATURES = "input tensor", "uint8 pixels", "float32 features"
# What 'results' prints.
OUTPUT_TENSOR, ANOMALY_SCORE = "output tensor", "anomaly score"
FLOAT_BYTES = 4
PIXEL_OFFSET = 128  # th_load_tensor of vww01 and ic01: int8 input = uint8 pixel - 128


@dataclass(frozen=True)
class WireFormat:
    """How one model id's firmware reads ``db`` and prints ``results``."""

    db_input: str = INPUT_TENSOR
    results: str = OUTPUT_TENSOR
    trailing_comma: bool = False
    """th_results prints ',' after every value, the last one too (vww01: 'm-results-[a,b,]')."""

    @property
    def db_is_tensor(self) -> bool:
        return self.db_input == INPUT_TENSOR

    def db_bytes(self, tensor_bytes: int) -> int:
        """Bytes of one 'db' input for a model whose int8 input tensor has ``tensor_bytes``."""
        return tensor_bytes * FLOAT_BYTES if self.db_input == FLOAT32_FEATURES else tensor_bytes

    def encode(self, tensor: np.ndarray, spec, real_values: np.ndarray | None = None) -> bytes:
        """The 'db' bytes that make the firmware load ``tensor`` (the model's quantized input).

        For float features, ``real_values`` (the float input that was quantized, where the
        caller has it) are sent when they quantize to ``tensor`` exactly as the firmware does;
        otherwise the tensor's dequantization is sent, which quantizes back to it exactly
        (``(q - zero_point) * scale`` divided by scale is within float rounding of an integer).
        Raises ValueError when the result would not load ``tensor``.
        """
        tensor = np.ascontiguousarray(tensor).reshape(-1)
        if self.db_input == INPUT_TENSOR:
            return tensor.tobytes()
        if self.db_input == UINT8_PIXELS:
            return (tensor.astype(np.int16) + PIXEL_OFFSET).astype(np.uint8).tobytes()
        if real_values is not None:
            features = np.asarray(real_values, dtype=np.float32).reshape(-1)
            if np.array_equal(quantize_like_reference_firmware(features, spec), tensor):
                return features.astype("<f4").tobytes()
        features = dequantize_like_reference_firmware(tensor, spec.scale, spec.zero_point)
        if not np.array_equal(quantize_like_reference_firmware(features, spec), tensor):
            raise ValueError(f"float features for a {spec.dtype} input at scale {spec.scale:g}, "
                             f"zero point {spec.zero_point} do not quantize back to the tensor")
        return features.astype("<f4").tobytes()

    def decode(self, data: bytes, spec) -> tuple[np.ndarray, np.ndarray | None]:
        """The input tensor the firmware makes of ``db`` bytes, and the real values where the
        bytes hold them (float features), else None."""
        if self.db_input == INPUT_TENSOR:
            return np.frombuffer(data, dtype=spec.dtype), None
        if self.db_input == UINT8_PIXELS:
            pixels = np.frombuffer(data, dtype=np.uint8).astype(np.int16)
            return (pixels - PIXEL_OFFSET).astype(np.int8), None
        values = np.frombuffer(data, dtype="<f4")
        return quantize_like_reference_firmware(values, spec), values.astype(np.float64)


TENSOR_WIRE = WireFormat()
WIRE_FORMATS: dict[str, WireFormat] = {
    "kws01": TENSOR_WIRE,
    "vww01": WireFormat(UINT8_PIXELS, OUTPUT_TENSOR, trailing_comma=True),
    "ic01": WireFormat(UINT8_PIXELS, OUTPUT_TENSOR),
    "ad01": WireFormat(FLOAT32_FEATURES, ANOMALY_SCORE),
}
# The firmware's generated configuration (hb_model_config.h) names the formats by number.
DB_FORMAT_DEFINES = {INPUT_TENSOR: 0, UINT8_PIXELS: 1, FLOAT32_FEATURES: 2}
RESULTS_DEFINES = {OUTPUT_TENSOR: 0, ANOMALY_SCORE: 1}


def wire_format(model_id: str | None) -> WireFormat:
    """The wire format of firmware that answers ``m-model-[model_id]``."""
    return WIRE_FORMATS.get(model_id or "", TENSOR_WIRE)


def quantize_like_reference_firmware(values: np.ndarray, spec) -> np.ndarray:
    """round(value / scale) + zero_point, clamped to the dtype, as QuantizeFloatToInt8 in MLPerf
    Tiny's reference firmware: a float32 division, then C's round() (halves away from zero),
    which works on the double and so is exact (float32 + 0.5 would round 0.49999997 up)."""
    scaled = (np.asarray(values, dtype=np.float32) / np.float32(spec.scale)).astype(np.float64)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    info = np.iinfo(spec.dtype)
    return np.clip(rounded + spec.zero_point, info.min, info.max).astype(spec.dtype)


def dequantize_like_reference_firmware(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 (q - zero_point) * scale, as DequantizeInt8ToFloat in the reference firmware (and
    as any DUT that prints its dequantized outputs computes them)."""
    return (np.asarray(values).astype(np.int32) - zero_point).astype(np.float32) * np.float32(scale)


def anomaly_score_like_reference_firmware(outputs: np.ndarray, output_spec,
                                          features: np.ndarray) -> np.ndarray:
    """The score ad01's th_results prints, per row: the mean of (dequantized output - float
    feature)^2, summed in float32 in element order as its calculate_result() does."""
    outputs = np.atleast_2d(np.asarray(outputs))
    features = np.asarray(features, dtype=np.float32).reshape(outputs.shape[0], -1)
    diffs = dequantize_like_reference_firmware(outputs.reshape(outputs.shape[0], -1),
                                               output_spec.scale, output_spec.zero_point) - features
    # add.accumulate adds strictly in element order in float32, as the firmware's loop does
    # (a plain sum would add pairwise and round differently).
    totals = np.add.accumulate(diffs * diffs, axis=1, dtype=np.float32)[:, -1]
    return totals / np.float32(diffs.shape[1])
