"""The four int8 MLPerf Tiny reference models: bit-exact with the tflite-micro interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from hilbench.compile import compile_model
from hilbench.paths import shared_models_root
from tests.support.host_runner import run_model_on_host
from tests.support.tflm_reference import run_tflm

MLPERF_INT8_MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
VECTORS = 100


@pytest.mark.parametrize("model_name", MLPERF_INT8_MODELS)
def test_mlperf_model_matches_tflm_bit_for_bit(model_name, tmp_path):
    model_path = shared_models_root() / f"{model_name}.tflite"
    compiled = compile_model(model_path, tmp_path / "model_c")
    spec = compiled.inputs[0]
    rng = np.random.default_rng(20240611)
    inputs = rng.integers(-128, 128, size=(VECTORS,) + spec.shape, dtype=np.int8)

    ours = run_model_on_host(compiled, inputs)
    reference = run_tflm(model_path, inputs)

    assert ours.dtype == reference.dtype == np.int8
    assert ours.shape == reference.shape
    mismatched_rows = np.flatnonzero((ours != reference).reshape(VECTORS, -1).any(axis=1))
    assert mismatched_rows.size == 0, (
        f"{model_name}: {mismatched_rows.size}/{VECTORS} vectors differ from tflite-micro, "
        f"first at row {mismatched_rows[:1]}: ours {ours[mismatched_rows[0]].ravel()[:16]} vs "
        f"tflm {reference[mismatched_rows[0]].ravel()[:16]}")


@pytest.mark.parametrize("model_name", MLPERF_INT8_MODELS)
def test_dsp_kernel_path_matches_tflm_when_emulated(model_name, tmp_path):
    """kernels="auto" selects the SXTB16/SMLAD inner loops on DSP cores; HB_EMULATE_DSP runs
    that code on the host with the two instructions modelled in C."""
    model_path = shared_models_root() / f"{model_name}.tflite"
    compiled = compile_model(model_path, tmp_path / "model_c", kernels="auto")
    assert "HB_PORTABLE_KERNELS" not in compiled.compile_definitions
    rng = np.random.default_rng(7)
    inputs = rng.integers(-128, 128, size=(30,) + compiled.inputs[0].shape, dtype=np.int8)
    ours = run_model_on_host(compiled, inputs, extra_cflags=("-DHB_EMULATE_DSP",))
    np.testing.assert_array_equal(ours, run_tflm(model_path, inputs))
