"""The reference benchmark: one test per board x model, one result row each.

It ships inside the package: the plugin adds it to any `pytest --board=B` run that names no
paths, from any folder, beside the tests found there (`--no-reference-suite` leaves it out):

    pytest --board=nano33                      # the real board if connected, else its twin
    pytest --board=host,an547 --model=kws      # several boards, one model
    pytest --board=nucleo-l4r5zi --model=kws_ref_model --emulate
    pytest --board=host --vectors=20           # a quick run on 20 test vectors per model
    pytest --board=host --no-reference-suite   # only the tests of this folder (the dut fixture)

Each test runs hilbench.procedure.benchmark_dut on the board's DUT: the model's test
vectors (bit-exact against tflite-micro, accuracy against the float model), latency windows
sized for the board's mode, energy from the probe, a capture or the power model, and the
firmware's footprint, each figure with its label. Models: every models_zoo/ model (with its
labelled test vectors), or the MLPerf Tiny int8 models (seeded random inputs: bit-exactness
and timing, no accuracy).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hilbench.errors import HilbenchError
from hilbench.procedure import BenchmarkOptions, benchmark_dut


def test_reference_benchmark(dut, hilbench_results, request):
    capture = request.config.getoption("energy_capture")
    dataset = request.config.getoption("dataset")
    options = BenchmarkOptions(max_vectors=request.config.getoption("vectors"),
                               energy_capture=Path(capture) if capture else None,
                               dataset=Path(dataset) if dataset else None,
                               max_twins=request.config.getoption("twins"))
    try:
        result = benchmark_dut(dut, options)
    except HilbenchError as error:
        # A DUT that stops answering, a lab host that goes down: this row fails with what
        # went wrong, and the other boards and models go on.
        pytest.fail(f"hilbench: {dut.board.name} ({dut.board.describe()}), {dut.model_name}: "
                    f"{error}", pytrace=False)
    hilbench_results.record(result.row, raw=result.raw, figures=result.figures)
    if result.bitexact_rate is None:
        # A plain MLPerf Tiny DUT whose printed outputs do not determine its tensors: the row
        # says why its bit-exactness is empty; nothing here can be checked against tflite-micro.
        return
    assert result.bitexact_rate == 1.0, (
        f"{dut.model_name} on {dut.board.name} ({dut.mode}): only {result.bitexact_rate:.1%} of "
        "the output tensors match tflite-micro bit for bit")
