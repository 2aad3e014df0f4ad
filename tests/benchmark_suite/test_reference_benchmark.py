"""The reference benchmark: one test per board x model, one result row each.

Run it from the repository root (plain `pytest` never collects it):

    pytest --board=nano33                      # the real board if connected, else its twin
    pytest --board=host,an547 --model=kws      # several boards, one model
    pytest --board=nucleo-l4r5zi --model=kws_ref_model --emulate

Each test runs the model's test vectors on the board (one 'infer 1 0' per vector), checks
the raw outputs bit for bit against the tflite-micro interpreter, times 'infer N W' windows
on one vector, and records latency, cycles, modeled energy, accuracy and footprint, each
figure with its label. Models: every models_zoo/ model (with its labelled test vectors), or
the MLPerf Tiny int8 models (seeded random inputs: bit-exactness and timing, no accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hilbench import zoo
from hilbench.measure import (bitexact_rate, dequantize, elf_footprint, evaluate_accuracy,
                              modeled_energy, reconstruction_error, summarize_latency)
from models_zoo._common.evaluate import run_tflm

RANDOM_VECTORS = 10       # models without a test-vector set
TIMED_INFERENCES = 5      # per 'infer N W' window
WARMUP_INFERENCES = 1
WINDOWS = 2
# card.yaml metric -> hilbench.measure task
TASK_OF_METRIC = {"top1": "classification", "auc": "anomaly"}


@dataclass(frozen=True)
class ReferenceData:
    """The inputs a model is benchmarked on, and what is known about the right answers."""

    x_int8: np.ndarray
    x_float: np.ndarray | None = None
    labels: np.ndarray | None = None
    task: str | None = None
    float_model: Path | None = None


def reference_data(dut) -> ReferenceData:
    """The zoo's labelled test vectors for a zoo model; seeded random int8 rows otherwise."""
    zoo_models = {model.name: model for model in zoo.list_models()}
    model = zoo_models.get(dut.model_name)
    if model is not None and model.int8_path == dut.model_path and model.vectors_path.is_file():
        vectors = zoo.load_vectors(model.name)
        return ReferenceData(x_int8=vectors.x_int8, x_float=vectors.x, labels=vectors.y,
                             task=TASK_OF_METRIC[model.metric], float_model=model.float_path)
    spec = dut.input_spec
    rng = np.random.default_rng(20261126)   # fixed: the same inputs on every board
    info = np.iinfo(spec.dtype)
    x = rng.integers(info.min, info.max, size=(RANDOM_VECTORS, *spec.shape[1:]), endpoint=True,
                     dtype=spec.dtype)
    return ReferenceData(x_int8=x)


def scores(task: str, outputs: np.ndarray, x_float: np.ndarray) -> np.ndarray:
    """What the metric ranks: class scores, or an autoencoder's reconstruction error."""
    return reconstruction_error(x_float, outputs) if task == "anomaly" else outputs


def accuracy_columns(dut, data: ReferenceData, outputs: np.ndarray, expected: np.ndarray) -> dict:
    if data.labels is None:
        return {}
    spec = dut.output_spec
    device = scores(data.task, dequantize(outputs, spec.scale, spec.zero_point), data.x_float)
    float_outputs = run_tflm(data.float_model, data.x_float) if data.float_model.is_file() else None
    reference = None if float_outputs is None else scores(data.task, float_outputs, data.x_float)
    result = evaluate_accuracy(data.task, device, data.labels, reference,
                               device_raw_outputs=outputs, reference_raw_outputs=expected)
    return result.result_columns()


def test_reference_benchmark(dut, hilbench_results):
    board = dut.board.board
    data = reference_data(dut)

    outputs, vector_run = dut.infer(data.x_int8)
    expected = run_tflm(dut.model_path, data.x_int8).reshape(outputs.shape)
    bitexact = bitexact_rate(outputs, expected)

    timing = dut.time(data.x_int8[0], n=TIMED_INFERENCES, warmup=WARMUP_INFERENCES, windows=WINDOWS)
    assert timing.ticks, f"the DUT on {dut.endpoint.url} reports no per-inference ticks"
    seconds = dut.inference_seconds(timing.ticks, timing.timer_hz)
    windows = np.array_split(seconds, WINDOWS)
    latency = summarize_latency(windows, dut.mode, dut.latency_source,
                                clock_hz=board.clock_hz or None)

    row = dut.result_row(**latency.result_columns(), bitexact_rate=bitexact)
    row.update(accuracy_columns(dut, data, outputs, expected))
    if board.power_profile is not None and dut.mode != "host":
        energy = modeled_energy(latency.latency_ms_p50 / 1e3, board.power_profile.active_ma,
                                board.power_profile.voltage_v, mode=dut.mode,
                                idle_current_ma=board.power_profile.idle_ma)
        row.update(energy.result_columns())
    # A host executable's sections say nothing about a board's memory; a pre-flashed board
    # has no ELF here.
    if dut.mode != "host" and dut.firmware is not None:
        row.update(elf_footprint(dut.firmware.elf_path).result_columns())

    hilbench_results.record(row, raw={"outputs": outputs, "reference_outputs": expected,
                                      "latency_s": seconds, "vector_ticks": np.asarray(vector_run.ticks or ())})
    assert bitexact == 1.0, (f"{dut.model_name} on {board.name} ({dut.mode}): only "
                             f"{bitexact:.1%} of the output tensors match tflite-micro bit for bit")
