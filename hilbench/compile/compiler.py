"""compile_model(): a .tflite file in, C sources for the hilbench int8 runtime out."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hilbench.compile import codegen
from hilbench.compile.layout import choose_int16_filters
from hilbench.compile.lowering import KernelCall, int16_filter_candidates, lower_operator
from hilbench.compile.planner import Buffer, plan_arena
from hilbench.compile.reader import Graph, Tensor, read_model
from hilbench.errors import ModelError
from hilbench.mlperf_tiny import device_model_name
from hilbench.paths import firmware_root

KERNEL_SETS = ("portable", "auto")
# Headers every kernel build needs, beside the per-operator .c files.
RUNTIME_HEADERS = ("hb_model_api.h", "hb_kernels.h", "hb_fixedpoint.h", "hb_dot.h",
                   "hb_target.h")
_EDGE_DTYPES = ("int8", "int16", "float32")


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as the host sees it."""

    name: str
    shape: tuple[int, ...]
    dtype: str            # numpy dtype name, e.g. "int8"
    scale: float
    zero_point: int
    bytes: int


@dataclass
class CompiledModel:
    """The result of compile_model: what a firmware build needs, and figures about it."""

    model_name: str
    model_sha256: str
    source_files: list[Path]          # generated: hb_model.c, hb_model_data.c
    include_dirs: list[Path]          # the output folder and firmware_targets/runtime
    runtime_sources: list[Path]       # the kernel .c files this model calls
    arena_bytes: int
    weight_bytes: int
    ops: list[str]                    # distinct operator names, in first-use order
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    runtime_sha256: str               # hash of the runtime sources and headers (build caches)
    compile_definitions: dict[str, str] = field(default_factory=dict)
    out_dir: Path | None = None


def runtime_dir() -> Path:
    """firmware_targets/runtime: the kernel library."""
    return firmware_root() / "runtime"


def _spec(tensor: Tensor) -> TensorSpec:
    return TensorSpec(tensor.name, tuple(tensor.shape), tensor.dtype, float(tensor.scale),
                      tensor.zero_point, tensor.nbytes)


def model_input_specs(model_path: str | os.PathLike) -> list[TensorSpec]:
    """The model's input tensors, read from the file without compiling it."""
    graph, _ = read_model(Path(model_path))
    return [_spec(graph.tensors[index]) for index in graph.inputs]


def model_output_specs(model_path: str | os.PathLike) -> list[TensorSpec]:
    """The model's output tensors, read from the file without compiling it."""
    graph, _ = read_model(Path(model_path))
    return [_spec(graph.tensors[index]) for index in graph.outputs]


def _check_edges(graph: Graph) -> None:
    for role, indices in (("input", graph.inputs), ("output", graph.outputs)):
        for index in indices:
            tensor = graph.tensors[index]
            if tensor.dtype not in _EDGE_DTYPES:
                raise ModelError(f"model {role} {tensor.describe()} has dtype {tensor.dtype}; "
                                 f"supported model {role} dtypes: {', '.join(_EDGE_DTYPES)}")
            if tensor.is_constant:
                raise ModelError(f"model {role} {tensor.describe()} is a constant; the model "
                                 "must compute its outputs from its inputs")
    if not graph.operators:
        raise ModelError("model has no operators")


def _plan(graph: Graph, calls: list[KernelCall]) -> codegen.Placement:
    """Lifetimes of every arena tensor (RESHAPE outputs share their input's buffer) -> offsets."""
    root: dict[int, int] = {}

    def find(index: int) -> int:
        while index in root:
            index = root[index]
        return index

    for call in calls:
        if call.alias_of is not None:
            root[call.op.outputs[0]] = find(call.alias_of)

    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def touch(index: int, when: int) -> None:
        tensor = graph.tensors[index]
        if tensor.is_constant:
            return
        group = find(index)
        first[group] = min(first.get(group, when), when)
        last[group] = max(last.get(group, when), when)

    for index in graph.inputs:
        touch(index, -1)
    for call in calls:
        for index in call.op.inputs + call.op.outputs:
            if index >= 0:
                touch(index, call.op.index)
    for index in graph.outputs:
        touch(index, len(calls))

    buffers = {group: Buffer(f"t{group}", graph.tensors[group].nbytes, first[group], last[group])
               for group in first}
    scratch = {call.op.index: Buffer(f"scratch{call.op.index}", call.scratch_bytes,
                                     call.op.index, call.op.index)
               for call in calls if call.scratch_bytes}
    arena_bytes = plan_arena(list(buffers.values()) + list(scratch.values()))
    offsets = {}
    for index, tensor in enumerate(graph.tensors):
        if not tensor.is_constant and find(index) in buffers:
            offsets[index] = buffers[find(index)].offset
    return codegen.Placement(offsets, {k: b.offset for k, b in scratch.items()},
                             max(arena_bytes, 16))


def runtime_sha256(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(sources + [runtime_dir() / h for h in RUNTIME_HEADERS]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def compile_model(model_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                  kernels: str = "portable") -> CompiledModel:
    """Compile `model_path` into C sources in `out_dir` (replaced as a whole, atomically).

    The firmware reports the model ('m-model-[...]') by its name in results (a zoo model's
    folder name, else the file's stem), or by its MLPerf Tiny id (kws01, ...) for a reference
    model, as MLPerf Tiny's runner expects.

    kernels: "portable" forces the portable C kernels (HB_PORTABLE_KERNELS); "auto" lets a
    kernel use a DSP inner loop where the target has one (__ARM_FEATURE_DSP).
    Raises ModelError, before writing anything, for a corrupt model or an unsupported op/dtype.
    """
    if kernels not in KERNEL_SETS:
        raise ValueError(f"kernels={kernels!r} is not one of {', '.join(KERNEL_SETS)}")
    model_path = Path(model_path)
    out_dir = Path(out_dir)
    name = device_model_name(model_path)
    graph, raw = read_model(model_path)
    _check_edges(graph)
    int16_filters = (frozenset(choose_int16_filters(int16_filter_candidates(graph)))
                     if kernels != "portable" else frozenset())
    calls = [lower_operator(graph, op, kernels, int16_filters) for op in graph.operators]
    placement = _plan(graph, calls)

    model_sha = hashlib.sha256(raw).hexdigest()
    header = codegen.HEADER_COMMENT.format(model=model_path.name, sha=model_sha[:16])
    constants = codegen.referenced_constants(graph, calls)
    packed = codegen.packed_filters(graph, calls)
    inputs = [graph.tensors[i] for i in graph.inputs]
    outputs = [graph.tensors[i] for i in graph.outputs]
    files = {
        "hb_model_config.h": codegen.render_config_h(name, placement, inputs, outputs, header),
        "hb_model_data.h": codegen.render_data_h(constants, header),
        "hb_model_data.c": codegen.render_data_c(graph, constants, packed, header),
        "hb_model.c": codegen.render_model_c(name, graph, calls, placement, header),
    }
    _write_atomically(out_dir, files)

    kernel_names = []
    for call in calls:
        for source in call.kernel_sources:
            if source not in kernel_names:
                kernel_names.append(source)
    runtime_sources = [runtime_dir() / name for name in kernel_names]
    ops = []
    for call in calls:
        if call.op.name not in ops:
            ops.append(call.op.name)
    return CompiledModel(
        model_name=name,
        model_sha256=model_sha,
        source_files=[out_dir / "hb_model.c", out_dir / "hb_model_data.c"],
        include_dirs=[out_dir, runtime_dir()],
        runtime_sources=runtime_sources,
        arena_bytes=placement.arena_bytes,
        weight_bytes=int(sum(np.asarray(t.data).nbytes for t in constants)),
        ops=ops,
        inputs=[_spec(t) for t in inputs],
        outputs=[_spec(t) for t in outputs],
        runtime_sha256=runtime_sha256(runtime_sources),
        compile_definitions={"HB_PORTABLE_KERNELS": "1"} if kernels == "portable" else {},
        out_dir=out_dir,
    )


def _write_atomically(out_dir: Path, files: dict[str, str]) -> None:
    """Write into a temporary sibling folder, then swap it in: never a half-written out_dir.

    Several processes (pytest-xdist workers, parallel lab runs) may write the same folder at
    once on a cold cache. The folder is keyed by the model's and the compiler's content, so
    whichever copy ends up in place is right: losing a race is no error. A folder that
    already holds these files is left alone, so a build reading it never sees it swapped.
    """
    if (out_dir.is_dir() and sorted(p.name for p in out_dir.iterdir()) == sorted(files)
            and all((out_dir / name).read_text() == text for name, text in files.items())):
        return
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        retired = None
        if out_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            try:
                os.replace(out_dir, retired / "old")
            except FileNotFoundError:
                pass  # another process retired it first
        try:
            os.replace(staging, out_dir)
        except OSError:
            if not out_dir.is_dir():
                raise
            shutil.rmtree(staging, ignore_errors=True)  # another process put its copy in place
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
