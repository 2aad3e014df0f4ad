"""Keras -> float32 .tflite and full-integer int8 .tflite, and what a .tflite file contains."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

#: Ops the hilbench int8 runtime implements; a zoo model must stay within this set.
SUPPORTED_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
    "RESHAPE", "SOFTMAX", "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "MEAN", "PAD", "CONCATENATION",
})


def _batch_one_converter(model):
    """A converter for the model with its batch size fixed at 1, so that Flatten converts to a
    static RESHAPE rather than SHAPE/STRIDED_SLICE/PACK (the layers and weights are shared)."""
    import keras
    import tensorflow as tf

    inputs = keras.Input(shape=model.input_shape[1:], batch_size=1)
    return tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, model(inputs)))


def to_float_tflite(model) -> bytes:
    """Convert a trained Keras model to a float32 .tflite flatbuffer."""
    converter = _batch_one_converter(model)
    return converter.convert()


def to_int8_tflite(model, calibration: np.ndarray) -> bytes:
    """Convert to a full-integer model (int8 weights, activations, input and output), with
    activation ranges calibrated on ``calibration`` (one sample per row)."""
    import tensorflow as tf

    def representative() -> Iterator[list[np.ndarray]]:
        for sample in calibration:
            yield [sample[None].astype(np.float32)]

    converter = _batch_one_converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def _builtin_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def ops_used(path: Path) -> list[str]:
    """Builtin op names of a .tflite file's main subgraph, in first-use order."""
    import tflite

    model = tflite.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    names = _builtin_names()
    graph = model.Subgraphs(0)
    ops: list[str] = []
    for i in range(graph.OperatorsLength()):
        code = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
        # Newer files keep codes > 127 in BuiltinCode and a placeholder in the deprecated field.
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        if name not in ops:
            ops.append(name)
    return ops


def parameter_count(path: Path) -> int:
    """Number of constant (weight and bias) elements in a .tflite file's main subgraph."""
    import tflite

    model = tflite.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    graph = model.Subgraphs(0)
    total = 0
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        buffer = model.Buffers(tensor.Buffer())
        if buffer is not None and buffer.DataLength() > 0:
            total += int(np.prod(tensor.ShapeAsNumpy())) if tensor.ShapeLength() else 1
    return total


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float -> int8 the way TFLite's QUANTIZE kernel does: float32 x / float32 scale, round half
    away from zero, add the zero point, clamp."""
    scaled = np.asarray(x, dtype=np.float32) / np.float32(scale)
    q = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)
