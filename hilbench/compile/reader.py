"""Read a .tflite flatbuffer into plain Python data (no TensorFlow involved).

The rest of the compiler sees only `Graph`, `Tensor` and `Operator`; this is the one module
that knows the flatbuffer schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hilbench.errors import ModelError

# Flatbuffer TensorType -> numpy dtype name. Only what the reader must name in messages.
_TENSOR_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
    7: "int16", 8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64",
    13: "resource", 14: "variant", 15: "uint32", 16: "uint16", 17: "int4",
}
_FUSED_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
                      5: "SIGN_BIT"}
_PADDINGS = {0: "SAME", 1: "VALID"}


@dataclass
class Tensor:
    """One tensor of the graph: shape, dtype, quantization and, if constant, its data."""

    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    scales: np.ndarray          # float32, empty when not quantized
    zero_points: np.ndarray     # int64, empty when not quantized
    quantized_dimension: int
    data: np.ndarray | None     # constant tensors only, already in `shape`

    @property
    def scale(self) -> np.float32:
        return np.float32(self.scales[0]) if self.scales.size else np.float32(0.0)

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points.size else 0

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.num_elements * np.dtype(self.dtype).itemsize

    def describe(self) -> str:
        return f"tensor '{self.name}' ({self.dtype}{list(self.shape)})"


@dataclass
class Operator:
    """One operator: its builtin name, tensor indices (-1 = absent optional) and options."""

    index: int
    name: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """The main subgraph of a model."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def _builtin_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator
    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _options_to_dict(op: Any, opcode_name: str) -> dict[str, Any]:
    """The builtin options we use, as plain values."""
    import tflite

    opts = op.BuiltinOptions()
    if opts is None:
        return {}
    table = (opts.Bytes, opts.Pos)
    result: dict[str, Any] = {}

    def load(cls_name: str) -> Any:
        cls = getattr(tflite, cls_name)
        obj = cls()
        obj.Init(*table)
        return obj

    if opcode_name in ("CONV_2D",):
        o = load("Conv2DOptions")
        result = dict(padding=_PADDINGS.get(o.Padding(), str(o.Padding())),
                      stride_w=o.StrideW(), stride_h=o.StrideH(),
                      dilation_w=o.DilationWFactor(), dilation_h=o.DilationHFactor(),
                      activation=_FUSED_ACTIVATIONS.get(o.FusedActivationFunction(), "?"))
    elif opcode_name == "DEPTHWISE_CONV_2D":
        o = load("DepthwiseConv2DOptions")
        result = dict(padding=_PADDINGS.get(o.Padding(), str(o.Padding())),
                      stride_w=o.StrideW(), stride_h=o.StrideH(),
                      dilation_w=o.DilationWFactor(), dilation_h=o.DilationHFactor(),
                      depth_multiplier=o.DepthMultiplier(),
                      activation=_FUSED_ACTIVATIONS.get(o.FusedActivationFunction(), "?"))
    elif opcode_name == "FULLY_CONNECTED":
        o = load("FullyConnectedOptions")
        result = dict(activation=_FUSED_ACTIVATIONS.get(o.FusedActivationFunction(), "?"),
                      weights_format=o.WeightsFormat(), keep_num_dims=bool(o.KeepNumDims()))
    elif opcode_name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = load("Pool2DOptions")
        result = dict(padding=_PADDINGS.get(o.Padding(), str(o.Padding())),
                      stride_w=o.StrideW(), stride_h=o.StrideH(),
                      filter_w=o.FilterWidth(), filter_h=o.FilterHeight(),
                      activation=_FUSED_ACTIVATIONS.get(o.FusedActivationFunction(), "?"))
    elif opcode_name == "ADD":
        o = load("AddOptions")
        result = dict(activation=_FUSED_ACTIVATIONS.get(o.FusedActivationFunction(), "?"))
    elif opcode_name == "SOFTMAX":
        o = load("SoftmaxOptions")
        result = dict(beta=float(o.Beta()))
    elif opcode_name == "CONCATENATION":
        o = load("ConcatenationOptions")
        result = dict(axis=o.Axis(),
                      activation=_FUSED_ACTIVATIONS.get(o.FusedActivationFunction(), "?"))
    elif opcode_name == "MEAN":
        o = load("ReducerOptions")
        result = dict(keep_dims=bool(o.KeepDims()))
    return result


def read_model(model_path: Path) -> tuple[Graph, bytes]:
    """Parse `model_path`; raises ModelError if it is not a readable .tflite model."""
    model_path = Path(model_path)
    try:
        buf = model_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {model_path}: {exc.strerror}; "
                         "check the path") from exc
    not_tflite = (f"{model_path} is not a valid .tflite model (expected a TFLite flatbuffer "
                  "with identifier 'TFL3'); re-export it with the TFLite converter")
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelError(not_tflite)
    try:
        return _parse(buf), buf
    except ModelError:
        raise
    except Exception as exc:  # a truncated or corrupt flatbuffer fails in many ways
        raise ModelError(f"{not_tflite} ({type(exc).__name__} while parsing: {exc})") from exc


def _parse(buf: bytes) -> Graph:
    import tflite

    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() < 1:
        raise ModelError("model has no subgraph; it is not a valid .tflite model")
    if model.SubgraphsLength() > 1:
        raise ModelError(f"model has {model.SubgraphsLength()} subgraphs; only single-subgraph "
                         "models (no control flow) are supported")
    builtin_names = _builtin_names()
    subgraph = model.Subgraphs(0)

    tensors = []
    for i in range(subgraph.TensorsLength()):
        t = subgraph.Tensors(i)
        dtype = _TENSOR_TYPES.get(t.Type(), f"type{t.Type()}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if t.Sparsity() is not None:
            raise ModelError(f"tensor '{t.Name().decode()}' is sparse; sparse tensors are not "
                             "supported, convert the model without sparsity")
        q = t.Quantization()
        scales = np.zeros(0, np.float32)
        zero_points = np.zeros(0, np.int64)
        qdim = 0
        if q is not None and q.ScaleLength():
            scales = q.ScaleAsNumpy().astype(np.float32)
            zero_points = (q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength()
                           else np.zeros(len(scales), np.int64))
            qdim = q.QuantizedDimension()
        data = None
        buffer = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        raw = None
        if buffer is not None and buffer.DataLength() > 0:
            raw = buffer.DataAsNumpy().tobytes()
        elif buffer is not None and buffer.Offset() > 1:
            # Models over 2 GB keep buffers after the flatbuffer, addressed by offset.
            start, size = int(buffer.Offset()), int(buffer.Size())
            if start + size > len(buf):
                raise ModelError(f"constant tensor '{t.Name().decode()}' points past the end of "
                                 "the file; the model is truncated")
            raw = bytes(buf[start:start + size])
        if raw is not None:
            if dtype in ("string", "resource", "variant", "int4") or dtype.startswith("type"):
                raise ModelError(f"constant tensor '{t.Name().decode()}' has dtype {dtype}, "
                                 "which cannot be compiled")
            data = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
            expected = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if data.size != expected:
                raise ModelError(f"constant tensor '{t.Name().decode()}' holds {data.size} "
                                 f"values but its shape {list(shape)} needs {expected}; the "
                                 "model is corrupt")
            data = data.reshape(shape)
        tensors.append(Tensor(i, t.Name().decode(errors="replace"), dtype, shape, scales,
                              zero_points, qdim, data))

    operators = []
    for i in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = builtin_names.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            custom = code.CustomCode()
            name = f"CUSTOM({custom.decode() if custom else '?'})"
        inputs = [int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else []
        outputs = [int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else []
        for idx in inputs + outputs:
            if idx >= len(tensors):
                raise ModelError(f"operator {i} ({name}) refers to tensor {idx}, but the model "
                                 f"has {len(tensors)} tensors; the model is corrupt")
        operators.append(Operator(i, name, inputs, outputs, _options_to_dict(op, name)))

    graph_inputs = [int(x) for x in subgraph.InputsAsNumpy()]
    graph_outputs = [int(x) for x in subgraph.OutputsAsNumpy()]
    return Graph(tensors, operators, graph_inputs, graph_outputs)
