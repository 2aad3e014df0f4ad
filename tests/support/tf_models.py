"""Single-operator int8 .tflite models built with TensorFlow at test time (cached on disk).

Each builder returns a tf.function body; `convert()` runs full-integer post-training
quantization with a representative dataset. Converted files are cached under the hilbench
cache folder by a hash of the spec, so that reruns and shrinking hypothesis examples are cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from hilbench.paths import cache_root

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _tf():
    # A missing TensorFlow fails these tests (it is part of the set-up: scripts/setup.sh), so
    # that a broken install cannot quietly drop them.
    try:
        import tensorflow as tf
    except ImportError as error:
        pytest.fail(f"tensorflow cannot be imported ({error}); scripts/setup.sh installs it", pytrace=False)
    return tf


def convert(name: str, spec: dict, build: Callable, input_shapes: list[tuple[int, ...]], *,
            per_channel: bool = True, float_io: bool = False, input_range: float = 3.0,
            input_ranges: tuple[float, ...] | None = None) -> Path:
    """Convert `build` (a function of float tensors, with weights drawn from spec['seed']) to an
    int8 .tflite file; returns its cached path. The representative data of input i spans about
    +-input_ranges[i] (default: input_range for every input)."""
    ranges = list(input_ranges) if input_ranges else [input_range] * len(input_shapes)
    key = hashlib.sha256(json.dumps([name, spec, input_shapes, per_channel, float_io,
                                     ranges], sort_keys=True, default=str).encode())
    path = cache_root() / "tf-single-op" / f"{name}-{key.hexdigest()[:20]}.tflite"
    if path.exists():
        return path
    tf = _tf()
    rng = np.random.default_rng(spec.get("seed", 0))

    class Model(tf.Module):
        pass

    model = Model()
    model.fn = tf.function(lambda *xs: build(tf, rng, *xs),
                           input_signature=[tf.TensorSpec(s, tf.float32) for s in input_shapes])
    concrete = model.fn.get_concrete_function()

    data_rng = np.random.default_rng(1234)

    def representative():
        for _ in range(24):
            yield [(data_rng.standard_normal(s) * r / 3).astype(np.float32)
                   for s, r in zip(input_shapes, ranges)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if not per_channel:
        converter._experimental_disable_per_channel = True
    flatbuffer = converter.convert()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(flatbuffer)
    os.replace(tmp, path)
    return path


def weights(rng: np.random.Generator, shape, scale: float = 0.5) -> np.ndarray:
    """Weights with per-output-channel spread, so per-channel scales really differ."""
    w = rng.standard_normal(shape).astype(np.float32) * scale
    spread = rng.uniform(0.2, 2.0, size=shape[-1]).astype(np.float32)
    return w * spread


def apply_activation(tf, x, activation: str):
    if activation == "RELU":
        return tf.nn.relu(x)
    if activation == "RELU6":
        return tf.nn.relu6(x)
    return x


def with_int16_output(path: Path, scale: float, zero_point: int) -> Path:
    """A copy of `path` whose graph output is retyped to int16 with the given quantization.

    The TFLite converter does not emit int8-in/int16-out SOFTMAX in full-integer mode, but
    TFLM runs it; this rewrites the output tensor's type, scale and zero point in place in the
    flatbuffer (all three fields are present in a converted int8 model).
    """
    import struct

    import tflite

    buf = bytearray(path.read_bytes())
    subgraph = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)
    tensor = subgraph.Tensors(int(subgraph.OutputsAsNumpy()[0]))
    type_field = tensor._tab.Offset(6)               # Tensor.type
    quant = tensor.Quantization()
    scale_field = quant._tab.Offset(8)               # QuantizationParameters.scale
    zero_point_field = quant._tab.Offset(10)         # QuantizationParameters.zero_point
    if not (type_field and scale_field and zero_point_field):
        raise ValueError(f"{path}: output tensor lacks type/scale/zero_point fields to rewrite")
    buf[tensor._tab.Pos + type_field] = 7            # TensorType.INT16
    struct.pack_into("<f", buf, quant._tab.Vector(scale_field), scale)
    struct.pack_into("<q", buf, quant._tab.Vector(zero_point_field), zero_point)
    out = path.with_name(path.stem + "-int16out.tflite")
    out.write_bytes(bytes(buf))
    return out
