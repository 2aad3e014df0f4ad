"""One check used by every bit-exactness test: compile, run on the host and in TFLM, compare."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from hilbench.compile import CompiledModel, compile_model
from tests.support.host_runner import run_model_on_host
from tests.support.tflm_reference import run_tflm


def random_inputs(compiled: CompiledModel, rows: int, seed: int,
                  float_range: float = 4.0) -> list[np.ndarray]:
    """Uniform int8 over the whole range, or normal floats a little past the calibration range."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in compiled.inputs:
        shape = (rows,) + spec.shape
        if spec.dtype == "int8":
            arrays.append(rng.integers(-128, 128, size=shape, dtype=np.int8))
        elif spec.dtype == "float32":
            arrays.append((rng.standard_normal(shape) * float_range / 3).astype(np.float32))
        else:
            raise ValueError(f"no input generator for dtype {spec.dtype}")
    return arrays


# Each kernel set as the host runs it: the portable C, and the DSP path (packed filters,
# SXTB16/SMLAD/SMMULR) with its instructions modelled in C (HB_EMULATE_DSP, hb_target.h).
KERNEL_BUILDS = {"portable": ("portable", ()), "dsp": ("auto", ("-DHB_EMULATE_DSP",))}


def assert_bit_exact(model_path: Path, rows: int = 24, seed: int = 0,
                     expect_ops: set[str] | None = None) -> CompiledModel:
    """Compile `model_path`, run `rows` random inputs through it (with each kernel set) and
    through tflite-micro, and fail with the first differing row if any output byte differs."""
    reference = None
    for name, (kernels, cflags) in KERNEL_BUILDS.items():
        with tempfile.TemporaryDirectory(prefix="hb-bitexact-") as tmp:
            compiled = compile_model(model_path, Path(tmp) / "model_c", kernels=kernels)
            if expect_ops is not None:
                assert expect_ops <= set(compiled.ops), (
                    f"the converter did not produce {sorted(expect_ops)}: got {compiled.ops}")
            inputs = random_inputs(compiled, rows, seed)
            ours = run_model_on_host(compiled, inputs, extra_cflags=cflags)
        if reference is None:
            reference = run_tflm(model_path, inputs)
        _compare(ours, reference, rows, f"{name} kernels, {compiled.ops}")
    return compiled


def _compare(ours: np.ndarray, reference: np.ndarray, rows: int, what: str) -> None:
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    assert ours.dtype == reference.dtype, (ours.dtype, reference.dtype)
    differs = (ours.view(np.uint8) != reference.view(np.uint8)).reshape(rows, -1).any(axis=1)
    if differs.any():
        row = int(np.flatnonzero(differs)[0])
        raise AssertionError(
            f"{int(differs.sum())}/{rows} rows differ from tflite-micro ({what}); row "
            f"{row}:\n ours {ours[row].ravel()[:32]}\n tflm {reference[row].ravel()[:32]}")
