"""The four int8 MLPerf Tiny reference models and every zoo model: bit-exact with tflite-micro.

The first test runs the real product path: the model compiled to C, built into the host
board's firmware, started on a pty and driven over the serial protocol (one 'infer 1 0' per
vector), as `pytest --board=host` and `hilbench infer --board host` do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hilbench import mlperf_tiny, zoo
from hilbench.bench import open_dut
from hilbench.boards import resolve_boards
from hilbench.compile import compile_model
from hilbench.measure.reference import interpreter_outputs
from tests.support.host_runner import run_model_on_host
from tests.support.mlperf_tiny import reference_model
from tests.support.tflm_reference import run_tflm

VECTORS = 100
# MLPerf Tiny models (used when present) and the zoo's (always there), by name.
BIT_EXACT_MODELS = [*mlperf_tiny.INT8_MODELS, *(model.name for model in zoo.list_models())]


@pytest.mark.parametrize("model_name", BIT_EXACT_MODELS)
@pytest.mark.parametrize("kernels", ["portable", "auto"])
def test_model_on_the_host_board_matches_tflm_bit_for_bit(model_name: str, kernels: str):
    model_path = reference_model(model_name)
    [host] = resolve_boards(["host"])
    with open_dut(host, model_path, kernels=kernels) as dut:
        spec = dut.input_spec
        rng = np.random.default_rng(20240611)
        info = np.iinfo(spec.dtype)
        inputs = rng.integers(info.min, info.max, size=(VECTORS, *spec.shape[1:]), endpoint=True,
                              dtype=spec.dtype)
        ours, _ = dut.infer(inputs)
    reference = interpreter_outputs(model_path, inputs).reshape(ours.shape)

    assert ours.dtype == reference.dtype
    mismatched_rows = np.flatnonzero((ours != reference).reshape(VECTORS, -1).any(axis=1))
    assert mismatched_rows.size == 0, (
        f"{model_path}: {mismatched_rows.size}/{VECTORS} vectors differ from tflite-micro, "
        f"first at row {mismatched_rows[:1]}: ours {ours[mismatched_rows[0]].ravel()[:16]} vs "
        f"tflm {reference[mismatched_rows[0]].ravel()[:16]}")


@pytest.mark.parametrize("model_name", BIT_EXACT_MODELS)
def test_dsp_kernel_path_matches_tflm_when_emulated(model_name, tmp_path):
    """kernels="auto" selects the SXTB16/SMLAD inner loops on DSP cores; HB_EMULATE_DSP runs
    that code on the host with the two instructions modelled in C."""
    model_path = reference_model(model_name)
    compiled = compile_model(model_path, tmp_path / "model_c", kernels="auto")
    assert "HB_PORTABLE_KERNELS" not in compiled.compile_definitions
    rng = np.random.default_rng(7)
    inputs = rng.integers(-128, 128, size=(30,) + compiled.inputs[0].shape, dtype=np.int8)
    ours = run_model_on_host(compiled, inputs, extra_cflags=("-DHB_EMULATE_DSP",))
    np.testing.assert_array_equal(ours, run_tflm(model_path, inputs))
