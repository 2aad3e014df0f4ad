"""A real model on every emulated twin: output bytes identical to the tflite-micro interpreter.

kws_ref_model.tflite (MLPerf Tiny keyword spotting, int8) is compiled by hilbench.compile, built
for each QEMU target and run under QEMU; a few inputs are compared byte for byte with the
tflite-micro reference, and the instruction count of an inference must repeat exactly on a
fresh emulator. The four MLPerf Tiny int8 models, compiled for the DSP kernels, run on every
twin as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hilbench.build.builder import build_firmware
from hilbench.compile import compile_model
from hilbench.deploy import procs
from hilbench.deploy.qemu import start_firmware
from hilbench.paths import cache_root
from hilbench.session import DutSession

from support.tflm_reference import run_tflm
from tests.support.mlperf_tiny import mlperf_tiny_model
from twin_fixtures import EXPECTED_TIMER, QEMU_TARGETS

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

N_INPUTS = 3
MLPERF_INT8_MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


@pytest.fixture(scope="module")
def kws():
    kws_model = mlperf_tiny_model("kws_ref_model")   # skips the module's tests without it
    # A fixed folder, so that the builder's content-keyed cache finds the firmware next time.
    compiled = compile_model(kws_model, cache_root() / "test-models" / "kws_ref_model")
    rng = np.random.default_rng(20261126)
    spec = compiled.inputs[0]
    inputs = rng.integers(-128, 128, size=(N_INPUTS, *spec.shape), dtype=np.int8)
    inputs[0] = 0  # an all-zero input: every activation sits at its zero point
    reference = run_tflm(kws_model, inputs)
    return compiled, inputs, reference


@pytest.mark.parametrize("target", QEMU_TARGETS)
def test_kws_is_bit_exact_with_tflite_micro(target, kws):
    compiled, inputs, reference = kws
    firmware = build_firmware(target, compiled, cache_dir=cache_root() / "firmware")
    counts = []
    with start_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint, inference_timeout=60) as dut:
        assert dut.profile().model == compiled.model_name
        for row, expected in zip(inputs, reference):
            dut.load_input(row.tobytes())
            result = dut.infer(n=1, warmup=0)
            assert dut.raw_output() == expected.tobytes()
            counts.append(endpoint.instructions_from_ticks(result.ticks[0], result.timer_hz))
    # A fresh emulator, the same firmware and input: the same instruction count.
    with start_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint, inference_timeout=60) as dut:
        dut.load_input(inputs[1].tobytes())
        result = dut.infer(n=3, warmup=0)
        repeated = [endpoint.instructions_from_ticks(t, result.timer_hz) for t in result.ticks]
    assert repeated[0] == counts[1]
    if EXPECTED_TIMER[target][0] == "cmsdk-timer":
        # A 32-bit timer never overflows inside these inferences: all N counts are equal.
        assert repeated == [counts[1]] * 3
    else:
        # SysTick overflows every 2^24 ticks; its handler's few instructions land in
        # different inferences of one command (docs/emulation.md).
        assert max(repeated) - min(repeated) < 100
    # 2.66 M multiply-accumulates (README of the models): each costs at least one instruction.
    assert min(counts) > 2_660_000
    assert not procs.live_processes()


@pytest.fixture(scope="module")
def dsp_models():
    """The four MLPerf Tiny int8 models compiled with kernels="auto" (packed filters, the DSP
    loops on every twin but the Cortex-M3), one input each and tflite-micro's output for it."""
    models = {}
    for name in MLPERF_INT8_MODELS:
        path = mlperf_tiny_model(name)
        compiled = compile_model(path, cache_root() / "test-models" / f"{name}-auto",
                                 kernels="auto")
        row = np.random.default_rng(7).integers(-128, 128, size=(1, *compiled.inputs[0].shape),
                                                dtype=np.int8)
        models[name] = compiled, row, run_tflm(path, row)
    return models


@pytest.mark.parametrize("model_name", MLPERF_INT8_MODELS)
@pytest.mark.parametrize("target", QEMU_TARGETS)
def test_dsp_kernels_are_bit_exact_on_every_twin(target, model_name, dsp_models):
    compiled, row, reference = dsp_models[model_name]
    firmware = build_firmware(target, compiled, cache_dir=cache_root() / "firmware")
    with start_firmware(firmware) as endpoint, \
            DutSession.from_endpoint(endpoint, inference_timeout=120) as dut:
        dut.load_input(row.tobytes())
        dut.infer(n=1, warmup=0)
        assert dut.raw_output() == reference.tobytes()
    assert not procs.live_processes()
