"""Lower each TFLite operator to one int8 kernel call with precomputed parameters.

A lowering function checks the operator's dtypes and shapes, computes every parameter the way
TFLite Micro's Prepare() would, and returns a `KernelCall`: C declarations (a static const
params struct and its arrays) plus one C statement. Tensor pointers in the statement are
placeholders (`@T<index>@`, `@SCRATCH@`) that the code generator resolves once the arena is
planned.

To add an operator: write `_lower_<name>` here, add it to LOWERINGS, add its kernel .c file
in firmware_targets/runtime/ and its prototype in hb_kernels.h (see docs/runtime.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hilbench.compile import quantization as q
from hilbench.compile.layout import FilterUse, PackedFilter, pack_depthwise, pack_rows
from hilbench.compile.reader import Graph, Operator, Tensor
from hilbench.errors import ModelError

MAX_DIMS = 6
MAX_CONCAT_INPUTS = 16


@dataclass
class KernelCall:
    """What one operator becomes in the generated C."""

    op: Operator
    kernel_sources: list[str]
    declarations: list[str]
    statement: str
    scratch_bytes: int = 0
    alias_of: int | None = None     # RESHAPE: the output shares the input's bytes
    # Constant tensors the DSP kernels read in another layout (tensor index -> that layout).
    packed_filters: dict[int, PackedFilter] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def ptr(tensor: Tensor, ctype: str = "int8_t") -> str:
    """Placeholder for a tensor's data pointer, cast to `ctype *`."""
    return f"(({'const ' if tensor.is_constant else ''}{ctype} *)@T{tensor.index}@)"


def c_int(value: int) -> str:
    value = int(value)
    if value == -(1 << 31):
        return "INT32_MIN"
    return str(value)


def c_float(value: float) -> str:
    """An exact C literal for a float32 value (hex float, C99)."""
    return f"{float(np.float32(value)).hex()}f"


def c_double(value: float) -> str:
    return float(value).hex()


def c_array(name: str, ctype: str, values) -> str:
    body = ", ".join(c_int(v) for v in values)
    return f"static const {ctype} {name}[{max(len(values), 1)}] = {{{body if body else '0'}}};"


def c_struct(ctype: str, name: str, fields: dict[str, str]) -> str:
    lines = [f"static const {ctype} {name} = {{"]
    for key, value in fields.items():
        lines.append(f"    .{key} = {value},")
    lines.append("};")
    return "\n".join(lines)


def c_dims(values, length: int = MAX_DIMS) -> str:
    values = list(values) + [0] * (length - len(values))
    return "{" + ", ".join(c_int(v) for v in values) + "}"


# --- checks ---------------------------------------------------------------------------------

class OpContext:
    """An operator plus its tensors, with helpers that raise ModelErrors naming them."""

    def __init__(self, graph: Graph, op: Operator, kernels: str = "portable",
                 int16_filters: frozenset[int] = frozenset()):
        self.graph = graph
        self.op = op
        self.kernels = kernels  # "portable", or "auto" when DSP inner loops may be compiled in
        # Filters the DSP loops read sign-extended (layout.choose_int16_filters).
        self.int16_filters = int16_filters
        self.prefix = f"op{op.index}"

    def describe(self) -> str:
        return f"operator #{self.op.index} {self.op.name}"

    def input(self, position: int, *, optional: bool = False) -> Tensor | None:
        if position >= len(self.op.inputs) or self.op.inputs[position] < 0:
            if optional:
                return None
            raise ModelError(f"{self.describe()} is missing input {position}; the model is corrupt")
        return self.graph.tensors[self.op.inputs[position]]

    def output(self, position: int = 0) -> Tensor:
        if position >= len(self.op.outputs):
            raise ModelError(f"{self.describe()} is missing output {position}; the model is corrupt")
        return self.graph.tensors[self.op.outputs[position]]

    def fail(self, message: str) -> ModelError:
        return ModelError(f"{self.describe()}: {message}")

    def expect_dtype(self, tensor: Tensor, *allowed: str, role: str) -> None:
        if tensor.dtype not in allowed:
            raise self.fail(
                f"{role} {tensor.describe()} has dtype {tensor.dtype}; the runtime supports "
                f"{' or '.join(allowed)} here (int8 activations, float32 only at the model's "
                "QUANTIZE/DEQUANTIZE edges). Convert with full-integer int8 quantization.")

    def expect_quantized(self, tensor: Tensor, role: str) -> None:
        if tensor.scales.size == 0:
            raise self.fail(f"{role} {tensor.describe()} has no quantization parameters; "
                            "convert with full-integer int8 quantization")

    def expect_constant(self, tensor: Tensor, role: str) -> None:
        if not tensor.is_constant:
            raise self.fail(f"{role} {tensor.describe()} must be a constant in the model")

    def expect_rank(self, tensor: Tensor, ranks, role: str) -> None:
        if len(tensor.shape) not in ranks:
            raise self.fail(f"{role} {tensor.describe()} has rank {len(tensor.shape)}; "
                            f"expected rank {' or '.join(str(r) for r in ranks)}")

    def activation(self, output: Tensor) -> tuple[int, int]:
        activation = self.op.options.get("activation", "NONE")
        try:
            return q.activation_range(activation, output.scale, output.zero_point)
        except ValueError:
            raise self.fail(f"fused activation {activation} on {output.describe()} is not "
                            "supported (supported: NONE, RELU, RELU6, RELU_N1_TO_1)") from None


def _conv_geometry(ctx: OpContext, input_hw, filter_hw, output_hw) -> dict[str, int]:
    """Strides, dilations and leading paddings, checked against the output shape."""
    opts = ctx.op.options
    geometry = {}
    for axis, in_size, filter_size, out_size in (("h", input_hw[0], filter_hw[0], output_hw[0]),
                                                 ("w", input_hw[1], filter_hw[1], output_hw[1])):
        stride = opts[f"stride_{axis}"]
        dilation = opts.get(f"dilation_{axis}", 1)
        if stride < 1 or dilation < 1:
            raise ctx.fail(f"stride_{axis}={stride} / dilation_{axis}={dilation} must be >= 1")
        if opts["padding"] not in ("SAME", "VALID"):
            raise ctx.fail(f"padding {opts['padding']} is not supported (SAME or VALID)")
        expected = q.compute_out_size(opts["padding"], in_size, filter_size, stride, dilation)
        if expected != out_size:
            raise ctx.fail(f"output {ctx.output().describe()} has size {out_size} on axis {axis} "
                           f"but {opts['padding']} padding gives {expected}; the model is corrupt")
        geometry[f"stride_{axis}"] = stride
        geometry[f"dilation_{axis}"] = dilation
        geometry[f"pad_{axis}"] = q.compute_padding(stride, dilation, in_size, filter_size, out_size)
    return geometry


def _bias(ctx: OpContext, position: int, channels: int) -> Tensor | None:
    bias = ctx.input(position, optional=True)
    if bias is not None:
        ctx.expect_dtype(bias, "int32", role="bias")
        ctx.expect_constant(bias, "bias")
        if bias.num_elements != channels:
            raise ctx.fail(f"bias {bias.describe()} has {bias.num_elements} values for "
                           f"{channels} output channels")
    return bias


def _filter_scales(ctx: OpContext, filter_: Tensor, channels: int) -> None:
    ctx.expect_quantized(filter_, "filter")
    if filter_.scales.size not in (1, channels):
        raise ctx.fail(f"filter {filter_.describe()} has {filter_.scales.size} scales for "
                       f"{channels} output channels")
    if np.any(filter_.zero_points != 0):
        raise ctx.fail(f"filter {filter_.describe()} has a non-zero zero point; int8 filters "
                       "must be symmetric (as TFLite Micro requires)")


def _activation_io(ctx: OpContext, *, inputs=(0,)) -> tuple[list[Tensor], Tensor]:
    tensors = [ctx.input(i) for i in inputs]
    for position, tensor in zip(inputs, tensors):
        ctx.expect_dtype(tensor, "int8", role=f"input {position}")
        ctx.expect_quantized(tensor, f"input {position}")
    output = ctx.output()
    ctx.expect_dtype(output, "int8", role="output")
    ctx.expect_quantized(output, "output")
    return tensors, output


def _wrap_int32(values: np.ndarray) -> np.ndarray:
    return ((values.astype(np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int64)


def _acc_init(filter_sums: np.ndarray, bias: Tensor | None, input_zero_point: int) -> np.ndarray:
    """bias + input_offset * sum(filter taps) per output channel, as int32 (wrap-around exact):
    the convolution and fully connected kernels start each accumulator there and sum
    filter * input only."""
    bias_values = bias.data.astype(np.int64) if bias is not None else 0
    return _wrap_int32(bias_values - input_zero_point * filter_sums)


def _null_or(tensor: Tensor | None, ctype: str) -> str:
    return "NULL" if tensor is None else ptr(tensor, ctype)


# --- operators ------------------------------------------------------------------------------

def _constant_int8_filter(ctx: OpContext) -> Tensor:
    """Input 1 of a conv, depthwise conv or fully connected op: int8 weights stored in the model."""
    filter_ = ctx.input(1)
    ctx.expect_dtype(filter_, "int8", role="filter")
    ctx.expect_constant(filter_, "filter")
    return filter_


def _conv_operands(ctx: OpContext) -> tuple[Tensor, Tensor, Tensor]:
    """Input, filter and output of a conv or depthwise conv, checked for dtype and rank 4."""
    (input_,), output = _activation_io(ctx)
    filter_ = _constant_int8_filter(ctx)
    for tensor, role in ((input_, "input"), (filter_, "filter"), (output, "output")):
        ctx.expect_rank(tensor, (4,), role)
    return input_, filter_, output


def _requantize_field(narrow: bool) -> str:
    return "HB_REQUANTIZE_NARROW" if narrow else "HB_REQUANTIZE_GENERAL"


def _conv_params(ctx: OpContext, params_type: str, input_: Tensor, filter_: Tensor, output: Tensor,
                 filter_rows: np.ndarray, shape_fields: dict[str, str],
                 kernel_fields: dict[str, str] | None = None
                 ) -> tuple[list[str], dict[str, int], Tensor | None]:
    """What conv and depthwise conv share, precomputed: per-channel requantization, the bias
    folded into acc_init, strides/dilations/paddings and the activation range.

    filter_rows: the filter taps, one row per output channel. shape_fields: the op's own
    dimension fields of its params struct, which come first in it; kernel_fields, its own
    fields that come last.
    Returns the C declarations (params struct and its arrays), the geometry and the bias.
    """
    out_c = output.shape[3]
    _filter_scales(ctx, filter_, out_c)
    bias = _bias(ctx, 2, out_c)
    geometry = _conv_geometry(ctx, input_.shape[1:3], filter_.shape[1:3], output.shape[1:3])
    multipliers, shifts = q.per_channel_multipliers(input_.scale, filter_.scales, output.scale,
                                                    out_c)
    act_min, act_max = ctx.activation(output)
    acc_init = _acc_init(filter_rows.astype(np.int64).sum(axis=1), bias, input_.zero_point)
    narrow = q.narrow_requantization(shifts, None if bias is None else bias.data, filter_rows, 0,
                                     input_.zero_point)
    p = ctx.prefix
    declarations = [c_array(f"{p}_multiplier", "int32_t", multipliers),
                    c_array(f"{p}_shift", "int32_t", shifts),
                    c_array(f"{p}_acc_init", "int32_t", acc_init),
                    c_struct(params_type, f"{p}_params", {
                        **shape_fields,
                        **{k: c_int(v) for k, v in geometry.items()},
                        "input_offset": c_int(-input_.zero_point),
                        "output_offset": c_int(output.zero_point),
                        "act_min": c_int(act_min), "act_max": c_int(act_max),
                        "multiplier": f"{p}_multiplier", "shift": f"{p}_shift",
                        "acc_init": f"{p}_acc_init",
                        "requantize": _requantize_field(narrow),
                        **(kernel_fields or {})})]
    return declarations, geometry, bias


def _conv_statement(ctx: OpContext, kernel: str, input_: Tensor, filter_: Tensor,
                    bias: Tensor | None, output: Tensor, scratch_bytes: int) -> str:
    return (f"{kernel}(&{ctx.prefix}_params, {ptr(input_)}, {ptr(filter_)}, "
            f"{_null_or(bias, 'int32_t')}, {ptr(output)}, "
            f"{'(int8_t *)@SCRATCH@' if scratch_bytes else 'NULL'});")


def _lower_conv_2d(ctx: OpContext) -> KernelCall:
    input_, filter_, output = _conv_operands(ctx)
    batches, in_h, in_w, in_c = input_.shape
    out_c, f_h, f_w, f_c = filter_.shape
    _, out_h, out_w, out_c2 = output.shape
    if out_c2 != out_c or f_c == 0 or in_c % f_c != 0 or out_c % (in_c // f_c) != 0:
        raise ctx.fail(f"filter {filter_.describe()} does not fit input {input_.describe()} "
                       f"and output {output.describe()}")
    # Sign-extended for the DSP loop where the model's flash budget allows (layout.py).
    filter_int16 = filter_.index in ctx.int16_filters
    declarations, geometry, bias = _conv_params(
        ctx, "hb_conv_params_t", input_, filter_, output, filter_.data.reshape(out_c, -1),
        {"batches": c_int(batches), "input_h": c_int(in_h), "input_w": c_int(in_w),
         "input_c": c_int(in_c), "filter_h": c_int(f_h), "filter_w": c_int(f_w),
         "filter_c": c_int(f_c), "output_h": c_int(out_h),
         "output_w": c_int(out_w), "output_c": c_int(out_c)},
        {"filter_int16": c_int(int(filter_int16))})
    # The kernel gathers each output pixel's receptive field into arena scratch, except for
    # 1x1 convolutions without padding, whose receptive field is one input pixel (the same
    # test as reads_input_directly() in conv_2d.c).
    direct = (f_h, f_w) == (1, 1) and geometry["pad_h"] == 0 and geometry["pad_w"] == 0
    grouped = f_c != in_c
    patch = f_h * f_w * in_c
    scratch_bytes = 0 if direct or grouped else 2 * patch  # two pixels at a time
    packed = {}
    if ctx.kernels != "portable" and not grouped:
        # DSP path: the two patches unpacked to halfword pairs (16 bytes per group of four
        # values) before them, and the filter in blocks of two output channels.
        scratch_bytes += 16 * -(-patch // 4)
        packed[filter_.index] = pack_rows(filter_.data.reshape(out_c, patch), 2, filter_int16)
    statement = _conv_statement(ctx, "hb_conv_2d_s8", input_, filter_, bias, output, scratch_bytes)
    return KernelCall(ctx.op, ["conv_2d.c"], declarations, statement,
                      scratch_bytes=scratch_bytes, packed_filters=packed)


def _lower_depthwise_conv_2d(ctx: OpContext) -> KernelCall:
    input_, filter_, output = _conv_operands(ctx)
    batches, in_h, in_w, in_c = input_.shape
    _, f_h, f_w, out_c = filter_.shape
    _, out_h, out_w, out_c2 = output.shape
    if out_c2 != out_c or in_c == 0 or out_c % in_c != 0:
        raise ctx.fail(f"filter {filter_.describe()} does not fit input {input_.describe()} "
                       f"and output {output.describe()}")
    declarations, _geometry, bias = _conv_params(
        ctx, "hb_depthwise_conv_params_t", input_, filter_, output,
        filter_.data.reshape(-1, out_c).T,
        {"batches": c_int(batches), "input_h": c_int(in_h), "input_w": c_int(in_w),
         "input_c": c_int(in_c), "filter_h": c_int(f_h), "filter_w": c_int(f_w),
         "output_h": c_int(out_h), "output_w": c_int(out_w),
         "output_c": c_int(out_c), "depth_multiplier": c_int(out_c // in_c)})
    # Filters of up to 64 taps read padded taps from a row of input zero points kept in arena
    # scratch (depthwise_conv_2d.c, MAX_TAPS); 3x3 filters have their own entry point, whose
    # tap loop unrolls. With the DSP kernels and depth multiplier 1 the filter is packed.
    taps = f_h * f_w
    scratch_bytes = in_c if taps <= 64 else 0
    kernel = "hb_depthwise_conv_2d_3x3_s8" if (f_h, f_w) == (3, 3) else "hb_depthwise_conv_2d_s8"
    packed = {}
    if ctx.kernels != "portable" and out_c == in_c and taps <= 64:
        packed[filter_.index] = pack_depthwise(filter_.data.reshape(taps, out_c))
    statement = _conv_statement(ctx, kernel, input_, filter_, bias, output, scratch_bytes)
    return KernelCall(ctx.op, ["depthwise_conv_2d.c"], declarations, statement,
                      scratch_bytes=scratch_bytes, packed_filters=packed)


def _lower_fully_connected(ctx: OpContext) -> KernelCall:
    (input_,), output = _activation_io(ctx)
    filter_ = _constant_int8_filter(ctx)
    ctx.expect_rank(filter_, (2,), "filter")
    if ctx.op.options.get("weights_format", 0) != 0:
        raise ctx.fail("shuffled weights format is not supported (DEFAULT only)")
    out_depth, accum_depth = filter_.shape
    if accum_depth == 0 or input_.num_elements % accum_depth != 0:
        raise ctx.fail(f"input {input_.describe()} does not divide into rows of {accum_depth}")
    batches = input_.num_elements // accum_depth
    if output.num_elements != batches * out_depth:
        raise ctx.fail(f"output {output.describe()} should hold {batches}x{out_depth} values")
    ctx.expect_quantized(filter_, "filter")
    per_channel = filter_.scales.size > 1
    if per_channel and filter_.scales.size != out_depth:
        raise ctx.fail(f"filter {filter_.describe()} has {filter_.scales.size} scales for "
                       f"{out_depth} outputs")
    bias = _bias(ctx, 2, out_depth)
    if per_channel:
        multipliers, shifts = q.per_channel_multipliers(input_.scale, filter_.scales,
                                                        output.scale, out_depth)
    else:
        multiplier, shift = q.per_tensor_conv_multiplier(input_.scale, filter_.scale, output.scale)
        multipliers, shifts = [multiplier], [shift]
    act_min, act_max = ctx.activation(output)
    filter_offset = -filter_.zero_point
    # The kernel adds filter_offset to each weight, so the folded row sums include it too.
    row_sums = filter_.data.astype(np.int64).sum(axis=1) + filter_offset * accum_depth
    folded_bias = _acc_init(row_sums, bias, input_.zero_point)
    narrow = q.narrow_requantization(shifts, None if bias is None else bias.data, filter_.data,
                                     filter_offset, input_.zero_point)
    p = ctx.prefix
    declarations = [c_array(f"{p}_multiplier", "int32_t", multipliers),
                    c_array(f"{p}_shift", "int32_t", shifts),
                    c_array(f"{p}_folded_bias", "int32_t", folded_bias),
                    c_struct("hb_fully_connected_params_t", f"{p}_params", {
                        "batches": c_int(batches), "accum_depth": c_int(accum_depth),
                        "output_depth": c_int(out_depth), "filter_offset": c_int(filter_offset),
                        "output_offset": c_int(output.zero_point),
                        "act_min": c_int(act_min), "act_max": c_int(act_max),
                        "per_channel": c_int(int(per_channel)),
                        "multiplier": f"{p}_multiplier", "shift": f"{p}_shift",
                        "folded_bias": f"{p}_folded_bias",
                        "requantize": _requantize_field(narrow),
                        "filter_int16": c_int(int(filter_.index in ctx.int16_filters))})]
    # DSP path: the input row unpacked once into arena scratch (8 bytes per group of four
    # values) and the filter in blocks of four rows (see hb_dot.h).
    packed = {}
    scratch_bytes = 0
    if ctx.kernels != "portable" and filter_offset == 0:
        scratch_bytes = 8 * -(-accum_depth // 4)
        packed[filter_.index] = pack_rows(filter_.data.reshape(out_depth, accum_depth), 4,
                                          filter_.index in ctx.int16_filters)
    statement = (f"hb_fully_connected_s8(&{p}_params, {ptr(input_)}, {ptr(filter_)}, "
                 f"{ptr(output)}, {'(uint32_t *)@SCRATCH@' if scratch_bytes else 'NULL'});")
    return KernelCall(ctx.op, ["fully_connected.c"], declarations, statement,
                      scratch_bytes=scratch_bytes, packed_filters=packed)


def _lower_pool(ctx: OpContext, kernel: str, source: str) -> KernelCall:
    (input_,), output = _activation_io(ctx)
    ctx.expect_rank(input_, (4,), "input")
    ctx.expect_rank(output, (4,), "output")
    batches, in_h, in_w, channels = input_.shape
    _, out_h, out_w, out_c = output.shape
    if out_c != channels:
        raise ctx.fail(f"output {output.describe()} must keep the {channels} channels of the input")
    opts = ctx.op.options
    geometry = _conv_geometry(ctx, (in_h, in_w), (opts["filter_h"], opts["filter_w"]),
                              (out_h, out_w))
    act_min, act_max = ctx.activation(output)
    p = ctx.prefix
    declarations = [c_struct("hb_pool_params_t", f"{p}_params", {
        "batches": c_int(batches), "input_h": c_int(in_h), "input_w": c_int(in_w),
        "channels": c_int(channels), "filter_h": c_int(opts["filter_h"]),
        "filter_w": c_int(opts["filter_w"]), "output_h": c_int(out_h), "output_w": c_int(out_w),
        "stride_h": c_int(geometry["stride_h"]), "stride_w": c_int(geometry["stride_w"]),
        "pad_h": c_int(geometry["pad_h"]), "pad_w": c_int(geometry["pad_w"]),
        "act_min": c_int(act_min), "act_max": c_int(act_max)})]
    statement = f"{kernel}(&{p}_params, {ptr(input_)}, {ptr(output)});"
    return KernelCall(ctx.op, [source], declarations, statement)


def _lower_average_pool_2d(ctx: OpContext) -> KernelCall:
    return _lower_pool(ctx, "hb_average_pool_2d_s8", "average_pool_2d.c")


def _lower_max_pool_2d(ctx: OpContext) -> KernelCall:
    return _lower_pool(ctx, "hb_max_pool_2d_s8", "max_pool_2d.c")


def broadcast_strides(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    """Element strides of `in_shape` over the 6-D extended `out_shape` (0 where broadcast)."""
    ext_in = (1,) * (MAX_DIMS - len(in_shape)) + tuple(in_shape)
    strides = [0] * MAX_DIMS
    stride = 1
    for d in range(MAX_DIMS - 1, -1, -1):
        strides[d] = 0 if ext_in[d] == 1 else stride
        stride *= ext_in[d]
    return strides


def _broadcast_output_shape(ctx: OpContext, a: Tensor, b: Tensor, out: Tensor) -> tuple[int, ...]:
    rank = max(len(a.shape), len(b.shape))
    if rank > MAX_DIMS or len(out.shape) > MAX_DIMS:
        raise ctx.fail(f"broadcasting is supported up to {MAX_DIMS} dimensions")
    ea = (1,) * (rank - len(a.shape)) + tuple(a.shape)
    eb = (1,) * (rank - len(b.shape)) + tuple(b.shape)
    shape = []
    for da, db in zip(ea, eb):
        if da != db and da != 1 and db != 1:
            raise ctx.fail(f"inputs {a.describe()} and {b.describe()} cannot be broadcast")
        shape.append(max(da, db))
    if tuple(shape) != tuple(out.shape) and int(np.prod(shape)) != out.num_elements:
        raise ctx.fail(f"output {out.describe()} does not match the broadcast shape {shape}")
    return tuple(shape)


def _lower_add(ctx: OpContext) -> KernelCall:
    (in1, in2), output = _activation_io(ctx, inputs=(0, 1))
    out_shape = _broadcast_output_shape(ctx, in1, in2, output)
    params = q.add_params(in1.scale, in2.scale, output.scale)
    act_min, act_max = ctx.activation(output)
    broadcast = tuple(in1.shape) != tuple(in2.shape)
    ext_out = (1,) * (MAX_DIMS - len(out_shape)) + out_shape
    p = ctx.prefix
    declarations = [c_struct("hb_add_params_t", f"{p}_params", {
        "input1_offset": c_int(-in1.zero_point), "input2_offset": c_int(-in2.zero_point),
        "output_offset": c_int(output.zero_point),
        **{k: c_int(v) for k, v in params.items()},
        "act_min": c_int(act_min), "act_max": c_int(act_max),
        "flat_size": c_int(output.num_elements), "broadcast": c_int(int(broadcast)),
        "output_dims": c_dims(ext_out),
        "input1_strides": c_dims(broadcast_strides(in1.shape, out_shape)),
        "input2_strides": c_dims(broadcast_strides(in2.shape, out_shape))})]
    statement = f"hb_add_s8(&{p}_params, {ptr(in1)}, {ptr(in2)}, {ptr(output)});"
    return KernelCall(ctx.op, ["add.c"], declarations, statement)


def _lower_softmax(ctx: OpContext) -> KernelCall:
    input_ = ctx.input(0)
    ctx.expect_dtype(input_, "int8", role="input")
    ctx.expect_quantized(input_, "input")
    output = ctx.output()
    ctx.expect_dtype(output, "int8", "int16", role="output")
    ctx.expect_quantized(output, "output")
    if output.dtype == "int8":
        if output.zero_point != -128 or output.scale != np.float32(1.0 / 256):
            raise ctx.fail(f"int8 output {output.describe()} must have scale 1/256 and zero "
                           f"point -128 (has {output.scale}, {output.zero_point}), as TFLite "
                           "Micro requires")
    else:
        if output.zero_point != -32768 or abs(output.scale - 1.0 / 65536) > 0.001 / 65536:
            raise ctx.fail(f"int16 output {output.describe()} must have scale 1/65536 and zero "
                           "point -32768, as TFLite Micro requires")
    if not input_.shape:
        raise ctx.fail(f"input {input_.describe()} must have at least one dimension")
    depth = input_.shape[-1]
    multiplier, left_shift, diff_min = q.softmax_params(ctx.op.options.get("beta", 1.0),
                                                        input_.scale)
    p = ctx.prefix
    declarations = [c_struct("hb_softmax_params_t", f"{p}_params", {
        "outer_size": c_int(input_.num_elements // max(depth, 1)), "depth": c_int(depth),
        "input_multiplier": c_int(multiplier), "input_left_shift": c_int(left_shift),
        "diff_min": c_int(diff_min)})]
    if output.dtype == "int8":
        statement = f"hb_softmax_s8(&{p}_params, {ptr(input_)}, {ptr(output)});"
    else:
        statement = f"hb_softmax_s8_s16(&{p}_params, {ptr(input_)}, {ptr(output, 'int16_t')});"
    return KernelCall(ctx.op, ["softmax.c"], declarations, statement)


def _lower_logistic(ctx: OpContext) -> KernelCall:
    (input_,), output = _activation_io(ctx)
    if output.zero_point != -128:
        raise ctx.fail(f"output {output.describe()} must have zero point -128 (has "
                       f"{output.zero_point}), as TFLite Micro requires")
    multiplier, left_shift, radius = q.logistic_params(input_.scale)
    p = ctx.prefix
    declarations = [c_struct("hb_logistic_params_t", f"{p}_params", {
        "size": c_int(input_.num_elements), "input_zero_point": c_int(input_.zero_point),
        "input_range_radius": c_int(radius), "input_multiplier": c_int(multiplier),
        "input_left_shift": c_int(left_shift)})]
    statement = f"hb_logistic_s8(&{p}_params, {ptr(input_)}, {ptr(output)});"
    return KernelCall(ctx.op, ["logistic.c"], declarations, statement)


def _lower_mean(ctx: OpContext) -> KernelCall:
    (input_,), output = _activation_io(ctx)
    axis = ctx.input(1)
    ctx.expect_dtype(axis, "int32", role="axis")
    ctx.expect_constant(axis, "axis")
    rank = len(input_.shape)
    if not 1 <= rank <= MAX_DIMS:
        raise ctx.fail(f"input {input_.describe()} must have 1 to {MAX_DIMS} dimensions")
    reduced = [0] * rank
    for a in axis.data.reshape(-1):
        a = int(a) + rank if a < 0 else int(a)
        if not 0 <= a < rank:
            raise ctx.fail(f"axis {a} is out of range for input {input_.describe()}")
        reduced[a] = 1
    num_elements_in_axis = int(np.prod([d for d, r in zip(input_.shape, reduced) if r]))
    output_size = int(np.prod([d for d, r in zip(input_.shape, reduced) if not r]))
    if output.num_elements != output_size:
        raise ctx.fail(f"output {output.describe()} should hold {output_size} values")
    if num_elements_in_axis == 0:
        raise ctx.fail(f"input {input_.describe()} is empty along the reduced axes")
    multiplier, shift = q.mean_multiplier(input_.scale, output.scale, num_elements_in_axis)
    p = ctx.prefix
    declarations = [c_struct("hb_mean_params_t", f"{p}_params", {
        "rank": c_int(rank), "input_dims": c_dims(input_.shape), "reduced": c_dims(reduced),
        "output_size": c_int(output_size), "num_elements_in_axis": c_int(num_elements_in_axis),
        "input_zero_point": c_int(input_.zero_point),
        "output_zero_point": c_int(output.zero_point),
        "multiplier": c_int(multiplier), "shift": c_int(shift)})]
    statement = (f"hb_mean_s8(&{p}_params, {ptr(input_)}, {ptr(output)}, "
                 f"(int32_t *)@SCRATCH@);")
    return KernelCall(ctx.op, ["mean.c"], declarations, statement, scratch_bytes=4 * output_size)


def _lower_pad(ctx: OpContext) -> KernelCall:
    (input_,), output = _activation_io(ctx)
    paddings = ctx.input(1)
    ctx.expect_dtype(paddings, "int32", "int64", role="paddings")
    ctx.expect_constant(paddings, "paddings")
    rank = len(input_.shape)
    if not 1 <= rank <= MAX_DIMS or paddings.data.shape != (rank, 2):
        raise ctx.fail(f"paddings {paddings.describe()} must be [{rank}, 2] for input "
                       f"{input_.describe()} (rank 1 to {MAX_DIMS})")
    pads = paddings.data.astype(np.int64)
    if np.any(pads < 0):
        raise ctx.fail(f"paddings {paddings.describe()} must not be negative")
    out_shape = tuple(int(d + a + b) for d, (a, b) in zip(input_.shape, pads))
    if out_shape != tuple(output.shape):
        raise ctx.fail(f"output {output.describe()} should have shape {list(out_shape)}")
    pad_value = output.zero_point
    constant = ctx.input(2, optional=True)
    if constant is not None:
        ctx.expect_dtype(constant, "int8", role="constant_values")
        ctx.expect_constant(constant, "constant_values")
        pad_value = int(constant.data.reshape(-1)[0])
    if input_.scale != output.scale or input_.zero_point != output.zero_point:
        raise ctx.fail(f"input {input_.describe()} and output {output.describe()} must share "
                       "scale and zero point")
    p = ctx.prefix
    declarations = [c_struct("hb_pad_params_t", f"{p}_params", {
        "rank": c_int(rank), "element_bytes": "1", "input_dims": c_dims(input_.shape),
        "output_dims": c_dims(out_shape), "pad_before": c_dims(pads[:, 0]),
        "pad_value": c_int(pad_value)})]
    statement = f"hb_pad_s8(&{p}_params, {ptr(input_)}, {ptr(output)});"
    return KernelCall(ctx.op, ["pad.c"], declarations, statement)


def _lower_concatenation(ctx: OpContext) -> KernelCall:
    output = ctx.output()
    ctx.expect_dtype(output, "int8", role="output")
    inputs = [ctx.input(i) for i in range(len(ctx.op.inputs))]
    if not 1 <= len(inputs) <= MAX_CONCAT_INPUTS:
        raise ctx.fail(f"{len(inputs)} inputs; at most {MAX_CONCAT_INPUTS} are supported")
    if ctx.op.options.get("activation", "NONE") != "NONE":
        raise ctx.fail("a fused activation on CONCATENATION is not supported")
    rank = len(output.shape)
    axis = ctx.op.options.get("axis", 0)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < max(rank, 1):
        raise ctx.fail(f"axis {axis} is out of range for output {output.describe()}")
    for position, tensor in enumerate(inputs):
        ctx.expect_dtype(tensor, "int8", role=f"input {position}")
        if tensor.scale != output.scale or tensor.zero_point != output.zero_point:
            raise ctx.fail(f"input {tensor.describe()} has scale/zero point {tensor.scale}/"
                           f"{tensor.zero_point} but the output has {output.scale}/"
                           f"{output.zero_point}; TFLite Micro requires them equal for int8")
        if len(tensor.shape) != rank:
            raise ctx.fail(f"input {tensor.describe()} must have rank {rank}")
    outer = int(np.prod(output.shape[:axis])) if axis else 1
    inner = [int(np.prod(t.shape[axis:])) for t in inputs]
    if sum(inner) * outer != output.num_elements:
        raise ctx.fail(f"inputs do not add up to output {output.describe()}")
    p = ctx.prefix
    pointers = ", ".join(f"(const void *)@T{t.index}@" for t in inputs)
    declarations = [c_struct("hb_concatenation_params_t", f"{p}_params", {
        "num_inputs": c_int(len(inputs)), "outer_size": c_int(outer),
        "inner_bytes": "{" + ", ".join(str(v) for v in inner) + "}"})]
    statement = (f"{{ const void *const {p}_inputs[] = {{{pointers}}}; "
                 f"hb_concatenation(&{p}_params, {p}_inputs, (void *)@T{output.index}@); }}")
    return KernelCall(ctx.op, ["concatenation.c"], declarations, statement)


def _lower_quantize(ctx: OpContext) -> KernelCall:
    input_ = ctx.input(0)
    output = ctx.output()
    ctx.expect_dtype(input_, "float32", "int8", role="input")
    ctx.expect_dtype(output, "int8", role="output")
    ctx.expect_quantized(output, "output")
    p = ctx.prefix
    if input_.dtype == "float32":
        declarations = [c_struct("hb_quantize_params_t", f"{p}_params", {
            "size": c_int(input_.num_elements), "scale": c_float(output.scale),
            "zero_point": c_int(output.zero_point)})]
        statement = f"hb_quantize_f32_s8(&{p}_params, {ptr(input_, 'float')}, {ptr(output)});"
    else:
        ctx.expect_quantized(input_, "input")
        multiplier, shift = q.quantize_multiplier(float(input_.scale) / float(output.scale))
        declarations = [c_struct("hb_requantize_params_t", f"{p}_params", {
            "size": c_int(input_.num_elements), "input_zero_point": c_int(input_.zero_point),
            "output_zero_point": c_int(output.zero_point), "multiplier": c_int(multiplier),
            "shift": c_int(shift)})]
        statement = f"hb_requantize_s8_s8(&{p}_params, {ptr(input_)}, {ptr(output)});"
    return KernelCall(ctx.op, ["quantize.c"], declarations, statement)


def _lower_dequantize(ctx: OpContext) -> KernelCall:
    input_ = ctx.input(0)
    output = ctx.output()
    ctx.expect_dtype(input_, "int8", role="input")
    ctx.expect_quantized(input_, "input")
    ctx.expect_dtype(output, "float32", role="output")
    p = ctx.prefix
    declarations = [c_struct("hb_dequantize_params_t", f"{p}_params", {
        "size": c_int(input_.num_elements), "scale": c_double(float(input_.scale)),
        "zero_point": c_int(input_.zero_point)})]
    statement = f"hb_dequantize_s8_f32(&{p}_params, {ptr(input_)}, {ptr(output, 'float')});"
    return KernelCall(ctx.op, ["dequantize.c"], declarations, statement)


def _lower_reshape(ctx: OpContext) -> KernelCall:
    input_ = ctx.input(0)
    output = ctx.output()
    ctx.expect_dtype(input_, "int8", role="input")
    ctx.expect_dtype(output, "int8", role="output")
    if input_.num_elements != output.num_elements:
        raise ctx.fail(f"input {input_.describe()} and output {output.describe()} differ in size")
    statement = (f"hb_reshape({ptr(input_, 'void')}, (void *)@T{output.index}@, "
                 f"{output.nbytes});")
    alias = None if input_.is_constant else input_.index
    return KernelCall(ctx.op, ["reshape.c"], [], statement, alias_of=alias)


LOWERINGS: dict[str, Callable[[OpContext], KernelCall]] = {
    "CONV_2D": _lower_conv_2d,
    "DEPTHWISE_CONV_2D": _lower_depthwise_conv_2d,
    "FULLY_CONNECTED": _lower_fully_connected,
    "AVERAGE_POOL_2D": _lower_average_pool_2d,
    "MAX_POOL_2D": _lower_max_pool_2d,
    "ADD": _lower_add,
    "SOFTMAX": _lower_softmax,
    "LOGISTIC": _lower_logistic,
    "MEAN": _lower_mean,
    "PAD": _lower_pad,
    "PADV2": _lower_pad,
    "CONCATENATION": _lower_concatenation,
    "QUANTIZE": _lower_quantize,
    "DEQUANTIZE": _lower_dequantize,
    "RESHAPE": _lower_reshape,
    "SQUEEZE": _lower_reshape,
    "EXPAND_DIMS": _lower_reshape,
}

SUPPORTED_OPS = tuple(sorted(LOWERINGS))


def int16_filter_candidates(graph: Graph) -> list[FilterUse]:
    """The filters the DSP loops can read packed as int16 (CONV_2D without groups,
    FULLY_CONNECTED with a zero filter zero point), with their uses per inference."""
    candidates = []
    for op in graph.operators:
        if op.name not in ("CONV_2D", "FULLY_CONNECTED") or len(op.inputs) < 2:
            continue
        input_, filter_ = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
        output = graph.tensors[op.outputs[0]]
        if not filter_.is_constant or filter_.dtype != "int8" or filter_.num_elements == 0:
            continue
        if op.name == "CONV_2D":
            grouped = filter_.shape[3:] != input_.shape[3:]
            if len(filter_.shape) != 4 or len(input_.shape) != 4 or grouped:
                continue
            uses = int(np.prod(output.shape[:3]))
        else:
            if filter_.zero_point != 0 or len(filter_.shape) != 2:
                continue
            uses = input_.num_elements // max(filter_.shape[1], 1)
        candidates.append(FilterUse(filter_.index, filter_.num_elements, uses))
    return candidates


def lower_operator(graph: Graph, op: Operator, kernels: str = "portable",
                   int16_filters: frozenset[int] = frozenset()) -> KernelCall:
    """Check and lower one operator; raises ModelError naming op, tensor and dtype if refused."""
    ctx = OpContext(graph, op, kernels, int16_filters)
    lowering = LOWERINGS.get(op.name)
    if lowering is None:
        tensors = [graph.tensors[i] for i in op.outputs + op.inputs if i >= 0]
        named = tensors[0].describe() if tensors else "no tensors"
        raise ModelError(
            f"{ctx.describe()} (output {named}, dtype "
            f"{tensors[0].dtype if tensors else '-'}) is not supported by the hilbench int8 "
            f"runtime; supported operators: {', '.join(SUPPORTED_OPS)} (int8 activations, "
            "float32 only at QUANTIZE/DEQUANTIZE edges)")
    return lowering(ctx)
