"""The kernels on an emulated Cortex-M4 (QEMU mps2-an386): bit-exact with TFLM on both kernel
sets, for the four MLPerf Tiny models. The DSP set runs its real instructions there (SXTB16,
SMLAD, SMLABB/SMLATT, SMMULR and the assembly loops of hb_dot.h), which the host only models."""

from __future__ import annotations

import numpy as np
import pytest

from hilbench.compile import compile_model
from tests.support.m4_emulated import run_on_emulated_m4
from tests.support.mlperf_tiny import reference_model
from tests.support.tflm_reference import run_tflm

pytestmark = pytest.mark.emulator


@pytest.mark.parametrize("kernels", ["portable", "auto"])
@pytest.mark.parametrize("model_name", ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant",
                                        "ad01_int8", "kws", "ad"])
def test_emulated_cortex_m4_matches_tflm(model_name, kernels, tmp_path):
    model_path = reference_model(model_name)
    compiled = compile_model(model_path, tmp_path / "model_c", kernels=kernels)
    rng = np.random.default_rng(3)
    inputs = rng.integers(-128, 128, size=(2,) + compiled.inputs[0].shape, dtype=np.int8)
    reference = run_tflm(model_path, inputs)
    for row, expected in zip(inputs, reference):
        instructions, output = run_on_emulated_m4(compiled, row)
        np.testing.assert_array_equal(output, expected)
        assert instructions > 0
