"""The measurement procedure for one board x model x runtime, on a ready DUT.

:func:`benchmark_dut` drives a :class:`hilbench.bench.Dut` through every measurement and
returns one result row (the ARCHITECTURE.md columns) plus the figures behind it. The
reference suite (hilbench/suite/) calls it once per board x model; any other front
end can do the same. The steps:

1. **Vectors.** Each test vector runs as one ``infer 1 0``; its raw outputs are compared
   byte for byte with the tflite-micro int8 interpreter (``bitexact_rate``) and scored
   against the labels (top-1 or ROC AUC), beside the float model on the host
   (``accuracy_float``, ``accuracy_delta``).
2. **Host round trip.** ``name%`` is timed on the host a few times; the median is reported
   on its own (``host_round_trip_ms``) and never mixed into device figures.
3. **Latency.** A first short timing after the warm-up (its fastest inference) estimates
   one inference; N per window is chosen so that a window lasts at least the plan's minimum
   (10 s of device time on hardware, as MLPerf Tiny). Then ``infer N W`` runs M times: W warm-ups, N timed.
4. **Energy**, from one of three sources (:func:`energy_plan`): a live Joulescope
   (``probe``), a JLS recording (``capture``), or the board's power profile x latency
   (``model``); none on the host. Probe and capture need energy-mode firmware
   (:func:`energy_firmware_defines`): it pulses the timestamp pin at the start and end of
   each energy window, and the energy between the marks is integrated. A DUT that reports no
   device time at all (a plain MLPerf Tiny DUT in energy mode, :func:`times_only_by_marks`)
   skips step 3: a host-clock estimate sizes its energy windows, the marks are checked against
   each command's host time, and its row has energy but empty latency columns.
5. **Footprint.** Flash and RAM from the ELF, the tensor arena, and a stack estimate from
   GCC's call graph.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from hilbench.errors import MeasurementError
from hilbench.measure.accuracy import (TASK_OF_METRIC, AccuracyResult, bitexact_rate,
                                       evaluate_accuracy, mean_per_group, task_scores)
from hilbench.measure.energy import (EnergyResult, HostWindow, PowerTrace, measure_energy,
                                     modeled_energy)
from hilbench.measure.footprint import Footprint, elf_footprint
from hilbench.measure.latency import LatencyStats, inferences_per_window, summarize_latency, \
    summarize_window_latency
from hilbench.measure.reference import interpreter_outputs
from hilbench.mlperf_wire import wire_format

if TYPE_CHECKING:  # importing the procedure must not start the DUT machinery
    from hilbench.bench import DeviceOutputs, Dut
    from hilbench.boards import ResolvedBoard
    from hilbench.run import TimingRun

RANDOM_VECTORS = 10          # inputs for a model without a labelled test-vector set
RANDOM_VECTOR_SEED = 20261126  # the same inputs on every board
ROUND_TRIPS = 5
ARENA_SYMBOL = "s_arena"     # the tensor arena in firmware_targets/common/hb_dut.c
STACK_ENTRY = "main"
ENERGY_MODE_DEFINES = ("HB_DUT_ENERGY_MODE=1",)
# A printed anomaly score has three decimals: it agrees with the host's when within one step
# (truncated or rounded), plus float32's own resolution for large scores.
PRINTED_SCORE_STEP = 1e-3
FLOAT32_RELATIVE = 1e-6
# Scores this far apart (relative) on most vectors are not a runtime's rounding: the DUT read
# its input in another format than the host sent.
WILD_SCORE_DISAGREEMENT = 0.5
FIRST_TIMING_INFERENCES = 3
# Windows are sized for 20% more than the minimum: a first estimate up to that much slower
# than the timed inferences still gives windows that meet it.
WINDOW_HEADROOM = 1.2


# ---------------------------------------------------------------- plans


@dataclass(frozen=True)
class TimingPlan:
    """How the latency windows are run: W warm-ups then N timed inferences, M times."""

    windows: int
    warmup: int
    min_window_s: float
    """N is chosen so that a window lasts at least this much device time."""
    max_inferences: int | None
    """Cap on N (None: no cap). An enforced minimum window wins over it when the windows
    fall short (see benchmark_dut)."""
    enforce_min_window: bool
    """Refuse a window shorter than min_window_s (the MLPerf Tiny rule, on hardware)."""
    why: str


TIMING_PLANS: dict[str, TimingPlan] = {
    "hardware": TimingPlan(
        windows=5, warmup=10, min_window_s=10.0, max_inferences=None, enforce_min_window=True,
        why="MLPerf Tiny: 5 windows of at least 10 s of device time each, so that timer "
            "resolution and interrupts average out"),
    "emulated": TimingPlan(
        windows=2, warmup=1, min_window_s=0.1, max_inferences=3, enforce_min_window=False,
        why="icount is deterministic: every inference of the same input costs the same "
            "instructions, so a few inferences give the whole figure; longer windows only cost "
            "emulator time"),
    "host": TimingPlan(
        windows=5, warmup=5, min_window_s=0.05, max_inferences=None, enforce_min_window=False,
        why="host-clock: a shared computer's timing is noisy; short windows, several of them"),
}


@dataclass(frozen=True)
class EnergyPlan:
    """Where a run's energy figure comes from, and why."""

    source: str
    """probe | capture | model | '' (no energy figure)"""
    reason: str
    probe_serial: str | None = None
    capture_path: Path | None = None
    gpi: int = 0

    @property
    def needs_energy_mode(self) -> bool:
        """Probe and capture need firmware that pulses the timestamp pin (HB_DUT_ENERGY_MODE)."""
        return self.source in ("probe", "capture")


def energy_plan(board: ResolvedBoard, energy_capture: str | Path | None = None) -> EnergyPlan:
    """Choose the energy source for a resolved board.

    A hardware board measures: from ``energy_capture`` (``--energy-capture``) or the lab
    file's ``power_probe.capture`` (a JLS recording), else from its live Joulescope
    (``power_probe.serial``). Otherwise the board's power profile models it (emulated twins
    and hardware without a probe); a host run has no energy figure.
    """
    spec = board.board
    probe = spec.power_probe
    if energy_capture and board.mode != "hardware":
        raise MeasurementError(
            f"--energy-capture {energy_capture} measures a board on hardware, but board "
            f"'{board.name}' runs {board.describe()} ({board.reason}), where no current flows "
            "to record; drop --energy-capture for it")
    if board.mode == "host":
        return EnergyPlan("", "a host run draws no board's energy")
    if board.mode == "hardware":
        capture = energy_capture or probe.capture
        if capture and not Path(capture).parent.is_dir():
            raise MeasurementError(f"energy capture {capture}: the folder {Path(capture).parent} "
                                   "does not exist, so no recording can be written there")
        if capture:
            return EnergyPlan("capture", f"JLS capture {capture}", probe_serial=probe.serial,
                              capture_path=Path(capture), gpi=probe.gpi)
        if probe.kind == "joulescope":
            if not probe.serial:
                raise MeasurementError(
                    f"board '{board.name}' has a Joulescope (power_probe.kind) but no "
                    f"power_probe.serial; set boards.{board.name}.power_probe.serial in the lab file")
            return EnergyPlan("probe", f"Joulescope {probe.serial}", probe_serial=probe.serial,
                              gpi=probe.gpi)
    if spec.power_profile is None:
        return EnergyPlan("", f"board '{board.name}' has no power profile to model energy with")
    why = ("the emulated twin has no current to measure" if board.mode == "emulated"
           else "no power probe in the lab file")
    return EnergyPlan("model", f"modeled from the power profile ({why})")


def energy_firmware_defines(plan: EnergyPlan) -> tuple[str, ...]:
    """Build defines for the firmware the plan needs: energy mode for a probe or a capture."""
    return ENERGY_MODE_DEFINES if plan.needs_energy_mode else ()


@dataclass(frozen=True)
class BenchmarkOptions:
    """What may differ between runs of the procedure; the defaults are the benchmark's."""

    max_vectors: int | None = None
    """Run at most this many test vectors (evenly spaced over the set); None: all."""
    dataset: Path | None = None
    """A folder in MLPerf Tiny's runner layout (hilbench.runner_dataset): its test set for
    this model replaces the zoo's vectors, and accuracy is scored on it."""
    timing: TimingPlan | None = None
    """None: the plan for the DUT's mode (TIMING_PLANS)."""
    energy_capture: Path | None = None
    """A JLS file to analyse (overrides the lab file's power_probe.capture)."""
    capture_timeout_s: float = 120.0
    """How long to wait for the capture file after the energy windows ran."""
    idle_s: float = 0.5
    """Idle time recorded before and after the energy windows (the idle baseline)."""
    round_trips: int = ROUND_TRIPS
    max_twins: int | None = None
    """At most this many twins of an emulated board's firmware share the accuracy vectors
    (None: one per CPU core, see hilbench.bench.Dut.read_outputs); timing uses one."""
    probe_sample_rate_hz: int | None = None
    """The live probe's output rate (None: the device's, 1 MHz on a JS220). A lower rate
    saves memory (a 1 MHz minute of current, voltage and GPI takes about 1 GB to analyse) but
    may miss timestamp pulses shorter than one sample."""
    probe_driver_factory: Callable[[], Any] | None = None
    """Makes the Joulescope driver (default: pyjoulescope_driver.Driver)."""
    after_energy_windows: Callable[[], None] | None = None
    """Called when the energy windows (and the idle after them) are done, before a capture
    is read: a lab script can stop its recording here. Windows that fell under an enforced
    minimum run once more, and it is called again after them."""



# ---------------------------------------------------------------- result


@dataclass
class BenchmarkResult:
    """One board x model x runtime: the result row, the figures behind it, the raw data."""

    row: dict[str, object]
    """Result columns (hilbench.record.schema.RESULT_COLUMNS), every figure labelled."""
    figures: dict[str, Any]
    """Everything measured, beyond the contract columns (JSON-serialisable)."""
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-inference arrays for the run folder."""

    @property
    def bitexact_rate(self) -> float | None:
        """Share of output tensors identical to the tflite-micro int8 interpreter's; None when
        the DUT's outputs could not be known exactly (figures['accuracy'] says why)."""
        rate = self.figures["accuracy"]["bitexact_rate"]
        return None if rate is None else float(rate)


# ---------------------------------------------------------------- reference data


@dataclass(frozen=True)
class ReferenceData:
    """The inputs a model is benchmarked on, and what is known about the right answers."""

    x_int8: np.ndarray
    x_float: np.ndarray | None = None
    labels: np.ndarray | None = None
    task: str | None = None
    float_model: Path | None = None
    origin: str = ""
    file_of_row: np.ndarray | None = None
    """Which labelled file each row came from, where a file is sent as several windows (MLPerf
    Tiny's segmented ad01): ``labels`` then has one entry per file, and a file's score is the
    mean of its windows' scores. None: one row per label."""


def evenly_spaced(count: int, limit: int | None) -> np.ndarray:
    """Indices of at most ``limit`` rows spread evenly over ``count`` rows (all when None).

    Test-vector sets are often grouped by label: an even spread keeps every group (an AUC
    needs both normal and anomalous samples), where the first rows might not.
    """
    if limit is None or limit >= count:
        return np.arange(count)
    if limit < 1:
        raise MeasurementError(f"max_vectors must be >= 1, got {limit}")
    return np.unique(np.linspace(0, count - 1, limit).round().astype(int))


def zoo_model_of(model_path: Path):
    """The zoo model whose int8 file is ``model_path``, or None."""
    from hilbench import zoo

    if not zoo.zoo_root().is_dir():
        return None
    return next((m for m in zoo.list_models()
                 if m.int8_path.resolve() == Path(model_path).resolve()), None)


def reference_data(dut: Dut, max_vectors: int | None = None,
                   dataset: Path | None = None) -> ReferenceData:
    """The test set of ``dataset`` (MLPerf Tiny runner layout) when given; else the zoo's
    labelled test vectors for a zoo model; seeded random int8 rows otherwise."""
    from hilbench import zoo

    if dataset is not None:
        return runner_reference_data(dut, dataset, max_vectors)
    model = zoo_model_of(dut.model_path)
    if model is not None and model.vectors_path.is_file():
        vectors = zoo.load_vectors(model.name)
        pick = evenly_spaced(len(vectors), max_vectors)
        return ReferenceData(x_int8=vectors.x_int8[pick], x_float=vectors.x[pick],
                             labels=vectors.y[pick], task=TASK_OF_METRIC[model.metric],
                             float_model=model.float_path,
                             origin=f"{len(pick)} of {len(vectors)} zoo test vectors")
    spec = dut.input_spec
    rows = RANDOM_VECTORS if max_vectors is None else min(RANDOM_VECTORS, max_vectors)
    info = np.iinfo(spec.dtype)
    x = np.random.default_rng(RANDOM_VECTOR_SEED).integers(
        info.min, info.max, size=(rows, *spec.shape[1:]), endpoint=True, dtype=spec.dtype)
    return ReferenceData(x_int8=x, origin=f"{rows} seeded random inputs (no labelled vectors)")


def _accuracy(dut: Dut, data: ReferenceData, outputs: DeviceOutputs,
              expected: np.ndarray) -> AccuracyResult | None:
    if data.labels is None:
        return None
    device = (outputs.scores[:, 0] if outputs.kind == "score"  # the DUT's own anomaly scores
              else task_scores(data.task, data.x_float, outputs.scores))
    float_scores = None
    if data.float_model is not None and data.float_model.is_file():
        float_scores = task_scores(data.task, data.x_float,
                                   interpreter_outputs(data.float_model, data.x_float))
    if data.file_of_row is not None:  # a file sent as several windows scores as their mean
        device = mean_per_group(device, data.file_of_row)
        float_scores = None if float_scores is None else mean_per_group(float_scores, data.file_of_row)
    exact = outputs.exact
    return evaluate_accuracy(data.task, device, data.labels, float_scores,
                             device_raw_outputs=outputs.values if exact else None,
                             reference_raw_outputs=expected if exact else None)


def load_dataset_for(model_path: Path, dataset: Path):
    """The test set of ``model_path`` in ``dataset`` (MLPerf Tiny runner layout): the folder
    named after the model id its firmware reports (kws01, ..., or a zoo model's name), read
    for the model's input tensor (hilbench.runner_dataset.RunnerDataset). It needs only the
    model file, so the front ends check a dataset before anything is built."""
    from hilbench.compile.compiler import model_input_specs
    from hilbench.errors import ModelError
    from hilbench.mlperf_tiny import device_model_name
    from hilbench.runner_dataset import load_runner_dataset

    specs = model_input_specs(model_path)
    if len(specs) != 1:
        raise ModelError(f"model {Path(model_path).name} has {len(specs)} inputs; a dataset "
                         "folder holds inputs of models with exactly one")
    zoo_model = zoo_model_of(model_path)
    task = TASK_OF_METRIC[zoo_model.metric] if zoo_model is not None else None
    return load_runner_dataset(dataset, device_model_name(model_path), specs[0], task)


def runner_reference_data(dut: Dut, dataset: Path, max_vectors: int | None) -> ReferenceData:
    """The model's test set in MLPerf Tiny's runner layout, scored as the runner scores it;
    ``max_vectors`` limits the files (each with all its windows)."""
    from hilbench.measure.accuracy import dequantize

    spec = dut.input_spec
    data = load_dataset_for(dut.model_path, dataset)
    files = evenly_spaced(len(data.files), max_vectors)
    rows = np.flatnonzero(np.isin(data.file_of_window, files))
    x = data.x[rows].reshape(len(rows), *spec.shape[1:])
    if data.x_float is not None:  # the real-valued features the runner sent (ad01)
        x_float = data.x_float[rows].reshape(x.shape)
    elif spec.scale:  # the anomaly score is the reconstruction error against real values
        x_float = dequantize(x, spec.scale, spec.zero_point)
    else:
        x_float = x.astype(np.float64)
    windowed = len(rows) != len(files)
    return ReferenceData(
        x_int8=x, x_float=x_float, labels=data.labels[files], task=data.task,
        file_of_row=np.searchsorted(files, data.file_of_window[rows]) if windowed else None,
        origin=f"{len(files)} of {len(data.files)} files"
               + (f" ({len(rows)} windows)" if windowed else "")
               + f" of {data.folder} (MLPerf Tiny runner layout)")


def check_dataset(dataset: Path | None, model_paths) -> None:
    """Read ``dataset`` for every model before anything is built or flashed: a malformed
    folder is a ConfigError naming the file and the line, not a failure after the build."""
    if dataset is None:
        return
    for model_path in model_paths:
        load_dataset_for(Path(model_path), Path(dataset))


# ---------------------------------------------------------------- plain MLPerf Tiny DUTs


def check_printed_scores(dut: Dut, data: ReferenceData, outputs: DeviceOutputs,
                         expected: np.ndarray) -> dict[str, Any]:
    """Compare the anomaly scores a plain DUT printed (ad01) with the host's: the same score
    (hilbench.mlperf_wire) from tflite-micro's int8 outputs and the float features the host
    sent. Raises MeasurementError when most disagree wildly, which a DUT that reads its 'db'
    bytes in another format than the host sends gives; else returns the agreement figures."""
    from hilbench.mlperf_wire import anomaly_score_like_reference_firmware

    session = dut.session
    reals = data.x_float if data.x_float is not None else [None] * len(data.x_int8)
    features = np.stack([np.frombuffer(session.db_bytes(np.ascontiguousarray(row).tobytes(), real), "<f4")
                         for row, real in zip(data.x_int8, reals)])
    host = anomaly_score_like_reference_firmware(expected, dut.output_spec, features).astype(np.float64)
    printed = outputs.scores[:, 0]
    difference = np.abs(printed - host)
    agrees = difference <= PRINTED_SCORE_STEP + FLOAT32_RELATIVE * np.abs(host)
    relative = difference / np.maximum(np.abs(host), PRINTED_SCORE_STEP)
    worst = int(np.argmax(difference))
    if np.median(relative) > WILD_SCORE_DISAGREEMENT:
        raise MeasurementError(
            f"the plain MLPerf Tiny DUT on {dut.endpoint.url} ('{session.capabilities.model}') "
            f"printed anomaly scores far from the host's on the same inputs (vector {worst}: "
            f"{printed[worst]:.3f} against {host[worst]:.3f}; {int(agrees.sum())} of {len(agrees)} "
            "agree): it does not read its 'db' bytes as the host sends them "
            f"({wire_format(session.capabilities.model).db_input})")
    return {"agreement_rate": float(agrees.mean()), "compared": int(len(agrees)),
            "max_abs_difference": float(difference.max()),
            "host_score": "mean squared error of tflite-micro's dequantized int8 outputs against "
                          "the float features sent, summed in float32",
            "agrees_within": f"{PRINTED_SCORE_STEP} (three printed decimals)"}


def check_input_clobbering(dut: Dut, row: np.ndarray) -> dict[str, Any]:
    """Does the DUT run 'infer N W' with N+W > 1 on a clobbered input?

    MLPerf Tiny's reference firmware copies the loaded input into the model once per
    'infer' command; when the model's arena reuses the input's bytes, the second and later
    inferences of one command see a clobbered input. The outputs of 'infer 1 0' and
    'infer 1 1' (one warm-up first) on the same loaded input tell. hilbench takes outputs
    only from 'infer 1 0' anyway; this says whether the timing windows (N > 1) ran on the
    true input.
    """
    [single] = dut.input_rows(np.asarray(row).reshape(1, -1))
    session = dut.session
    session.load_input(single.tobytes())
    session.infer(1, 0)
    clean = session.read_outputs()
    session.infer(1, 1)
    after_warmup = session.read_outputs()
    return {"clobbers_input": clean != after_warmup,
            "how": "outputs of 'infer 1 0' and 'infer 1 1' on vector 0 of the run"}


# ---------------------------------------------------------------- latency


def host_round_trip_s(dut: Dut, count: int = ROUND_TRIPS) -> float:
    """Median host time from sending ``name%`` to the DUT's ``m-ready``: serial and host
    overhead, reported apart from every device figure."""
    times = []
    for _ in range(max(1, count)):
        started = time.perf_counter()
        dut.session.name()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


_NO_DEVICE_TIME = (
    "the DUT on {url} reports neither per-inference ticks nor m-lap-us stamps (a plain MLPerf "
    "Tiny DUT in energy mode), so it has no latency windows; benchmark its performance-mode "
    "firmware for latency")
# Sizing the energy windows of a DUT that cannot time itself (host_clock_inference_s): the
# difference of two commands must stand this far above the host's scheduling noise.
HOST_ESTIMATE_MIN_S = 0.02
HOST_ESTIMATE_RUNS = 3


def times_only_by_marks(dut: Dut) -> bool:
    """True for a DUT that reports no device time at all: no per-inference ticks, and
    'timestamp' gives no m-lap-us line (a plain MLPerf Tiny DUT in energy mode, which pulses its
    timestamp pin instead). Only a power probe's timestamp marks can time such a DUT."""
    capabilities = dut.session.capabilities or dut.session.profile()
    return not capabilities.cycles and dut.session.timestamp() is None


@dataclass(frozen=True)
class HostClockEstimate:
    """What the host clock says of a DUT that cannot time itself: it sizes the energy windows
    and bounds their marks, and is never a result figure."""

    inference_s: float
    command_overhead_s: float
    """An 'infer' command's host time that is not inferences (command, printed results,
    m-ready)."""


def host_clock_inference_s(dut: Dut, row: np.ndarray, plan: TimingPlan) -> HostClockEstimate:
    """A host-clock estimate of one inference and of an 'infer' command's serial overhead.

    'infer 2n 0' and 'infer n 0' send the same command and print the same results, so the
    difference of their host times (the fastest of a few each) is n inferences without the
    serial traffic; n grows until that difference stands above the host's scheduling noise,
    or until one command lasts a whole window.
    """
    [single] = dut.input_rows(np.asarray(row).reshape(1, -1))
    dut.session.load_input(single.tobytes())

    def fastest_s(n: int) -> float:
        return min(dut.session.infer(n, 0).host_s for _ in range(HOST_ESTIMATE_RUNS))

    n = FIRST_TIMING_INFERENCES
    while True:
        single_s, double_s = fastest_s(n), fastest_s(2 * n)
        extra_s = double_s - single_s
        if extra_s >= HOST_ESTIMATE_MIN_S or double_s >= plan.min_window_s:
            # Noise may leave no difference: then the whole longer command counts as its 2n
            # inferences, an overestimate; windows too short for the plan are found and rerun.
            inference_s = extra_s / n if extra_s > 0 else double_s / (2 * n)
            return HostClockEstimate(inference_s, max(0.0, single_s - n * inference_s))
        n *= 4


def first_inference_s(dut: Dut, row: np.ndarray, plan: TimingPlan) -> float:
    """A first estimate of one inference's device time: the fastest of a short window run
    after the plan's warm-up. A cold or interrupted inference would overestimate it and make
    every window too short; the fastest one errs on the side of longer windows."""
    first = _time_windows(dut, row, FIRST_TIMING_INFERENCES, replace(plan, windows=1))
    if first.ticks:
        return float(np.min(dut.inference_seconds(first.ticks, first.timer_hz)))
    if all(us is not None for us in first.window_us):
        return min(dut.window_seconds(us) for us in first.window_us) / first.n
    if not first.per_inference_s:
        raise MeasurementError(_NO_DEVICE_TIME.format(url=dut.endpoint.url))
    return float(np.min(first.per_inference_s))


def choose_inferences_per_window(first_inference_s: float, plan: TimingPlan) -> int:
    """N for each window: at least ``plan.min_window_s`` of device time (with headroom for a
    first estimate that was a little slow), within the plan's cap."""
    return inferences_per_window(first_inference_s, plan.min_window_s * WINDOW_HEADROOM,
                                 max_inferences=plan.max_inferences)


def _time_windows(dut: Dut, row: np.ndarray, n: int, plan: TimingPlan) -> TimingRun:
    from hilbench.run import TicksDroppedWarning

    with warnings.catch_warnings():
        # N above the DUT's tick memory is expected with long windows: the kept ticks are a
        # sample of each window, and the window length comes from the whole window.
        warnings.simplefilter("ignore", TicksDroppedWarning)
        return dut.time(row, n=n, warmup=plan.warmup, windows=plan.windows)


def summarize_timing(dut: Dut, timing: TimingRun, plan: TimingPlan,
                     round_trip_s: float | None) -> tuple[LatencyStats, dict[str, Any]]:
    """Latency figures of the timed windows, and how they were obtained.

    Per-inference device ticks give percentiles and the CI; when N exceeds the ticks the DUT
    keeps, they are the first ticks of each window (a sample), and the window's length comes
    from its m-lap-us stamps (or N x the mean kept inference when the DUT prints none).
    """
    mode, clock_hz = dut.mode, dut.board.board.clock_hz or None
    n, windows = timing.n, timing.windows
    details: dict[str, Any] = {"inferences_per_window": n, "windows": windows,
                               "warmup_per_window": timing.warmup, "timing_source": timing.timing_source,
                               # outputs after 'infer N W' differ from 'infer 1 0' (run stage warns)
                               "outputs_changed": timing.outputs_changed}
    if timing.ticks:
        seconds = dut.inference_seconds(timing.ticks, timing.timer_hz)
        per_window = seconds.reshape(windows, -1)
        kept = per_window.shape[1]
        lap_s = [dut.window_seconds(us) for us in timing.window_us] if all(us is not None for us in timing.window_us) else None
        if kept == n:
            window_s = per_window.sum(axis=1)
            how = "sum of the window's per-inference device times"
        elif lap_s is not None and mode == "hardware":
            window_s = np.asarray(lap_s)
            how = "m-lap-us stamps around the window"
        else:
            window_s = per_window.mean(axis=1) * n
            how = "N x the mean of the kept per-inference times"
        details.update(ticks_kept_per_window=kept, window_s=window_s.tolist(), window_length_from=how)
        _check_window_length(window_s, plan, dut)
        stats = summarize_latency(per_window, mode, dut.latency_source, host_round_trip_s=round_trip_s,
                                  clock_hz=clock_hz)
        return stats, details
    if timing.timing_source != "lap-us":
        raise MeasurementError(_NO_DEVICE_TIME.format(url=dut.endpoint.url))
    # m-lap-us on a twin is virtual time: instructions x 2^shift ns, turned into the board's
    # time as instructions x cpi / clock (Dut.window_seconds), so the label stays icount.
    window_s = np.asarray([dut.window_seconds(us) for us in timing.window_us])
    details.update(window_s=window_s.tolist(), window_length_from="m-lap-us stamps around the window")
    _check_window_length(window_s, plan, dut)
    stats = summarize_window_latency(window_s, [n] * windows, mode, dut.latency_source,
                                     host_round_trip_s=round_trip_s, clock_hz=clock_hz)
    return stats, details


class WindowTooShortError(MeasurementError):
    """A timing window lasted less than the plan's minimum (its inferences ran faster than the
    first estimate said)."""

    def __init__(self, message: str, shortest_s: float):
        super().__init__(message)
        self.shortest_s = shortest_s


def _check_window_length(window_s: np.ndarray, plan: TimingPlan, dut: Dut,
                          clock: str = "of device time") -> None:
    if not plan.enforce_min_window:
        return
    short = [i for i, s in enumerate(window_s) if s < plan.min_window_s]
    if short:
        raise WindowTooShortError(
            f"{dut.model_name} on {dut.board.name}: window {short[0]} lasted "
            f"{window_s[short[0]]:.3f} s {clock}, under the minimum {plan.min_window_s} s "
            "(the inferences ran faster than the first estimate said)", float(min(window_s)))


def _rerun_once_if_short(measure: Callable[[int], Any], n: int,
                         plan: TimingPlan) -> tuple[Any, int, dict[str, Any] | None]:
    """``measure(n)``; when a window fell under the plan's enforced minimum, once more with N
    scaled by what the windows showed. Returns the figures, the N they came from, and what the
    first attempt was (None when it stood)."""
    try:
        return measure(n), n, None
    except WindowTooShortError as short:
        rerun_n = math.ceil(n * plan.min_window_s * WINDOW_HEADROOM / short.shortest_s)
        return measure(rerun_n), rerun_n, {"inferences_per_window": n,
                                           "shortest_window_s": short.shortest_s}


# ---------------------------------------------------------------- energy


_NOTHING_TIMES_IT = (
    "board '{board}': the firmware on {url} is in energy mode and reports no device time (its "
    "'timestamp' pulses a pin instead of printing m-lap-us, and it has no per-inference ticks), "
    "so only a power probe's timestamp marks can time it, but the board has no probe or "
    "capture (its energy: {reason}); add the probe to the lab file (boards.{board}.power_probe: "
    "{{kind: joulescope, serial: ...}}, or capture: FILE.jls), or flash its performance-mode "
    "firmware")
MARKS_TIMER = "the probe's sample clock, between the timestamp marks"


def measure_marked_energy(dut: Dut, row: np.ndarray, estimate: HostClockEstimate,
                          plan: TimingPlan, energy: EnergyPlan, options: BenchmarkOptions,
                          details: dict[str, Any]) -> tuple[EnergyResult, dict[str, Any]]:
    """Energy of a DUT timed only by the probe's marks (:func:`times_only_by_marks`), and its
    figures['latency']: the windows are sized from the host-clock estimate and must last the
    plan's minimum between their marks (else run once more with N scaled, as latency windows)."""

    def marked_windows(n: int) -> EnergyResult:
        result = measure_dut_energy(dut, row, n, plan, None, energy, options,
                                    estimate.command_overhead_s)
        _check_window_length(np.asarray(result.window_s), plan, dut,
                             clock="between its timestamp marks")
        return result

    result, n, rerun = _rerun_once_if_short(
        marked_windows, choose_inferences_per_window(estimate.inference_s, plan), plan)
    return result, marked_timing(result, n, plan, rerun, details)


def marked_timing(energy: EnergyResult, n: int, plan: TimingPlan, rerun: dict[str, Any] | None,
                  details: dict[str, Any]) -> dict[str, Any]:
    """figures['latency'] of a DUT timed only by the marks: no latency figure (the row's
    latency columns and latency_source stay empty), but the time per inference between the
    marks, with its timer and that timer's resolution."""
    timing = {"latency_source": "", "windows": plan.windows, "inferences_per_window": n,
              "warmup_per_window": plan.warmup, "timing_source": "timestamp-marks",
              "latency_empty_because": (
                  "the firmware is in energy mode and reports no device time; the time between "
                  "the timestamp marks comes from the probe's sample clock, which no "
                  "latency_source label names"),
              "time_per_inference_between_marks_ms": energy.inference_time_ms,
              "timer": MARKS_TIMER, "timer_rate_hz": energy.marks_sample_rate_hz,
              "window_s": list(energy.window_s), **details}
    if rerun is not None:
        timing["rerun_after_short_window"] = rerun
    return timing


def _energy_mode_or_fail(dut: Dut, plan: EnergyPlan) -> None:
    """Probe and capture need the DUT to pulse its timestamp pin instead of printing times."""
    if dut.session.timestamp() is not None:
        raise MeasurementError(
            f"board '{dut.board.name}' measures energy with {plan.reason}, but the firmware on "
            f"{dut.endpoint.url} is in performance mode (it prints m-lap-us instead of pulsing the "
            "timestamp pin); flash firmware built with HB_DUT_ENERGY_MODE=1, or remove the "
            "probe from the lab file to model energy")


@dataclass(frozen=True)
class EnergyWindows:
    """What the DUT and the host saw of the energy windows."""

    counts: list[int]
    """Timed inferences of each window."""
    device_s: list[float] | None
    """Device length of each window; None for a DUT that reports no device time."""
    host: list[HostWindow]
    span: tuple[float, float]
    """Wall-clock span of the windows (Unix seconds)."""


def _run_energy_windows(dut: Dut, row: np.ndarray, n: int, plan: TimingPlan,
                        inference_s: float | None, idle_s: float,
                        command_overhead_s: float) -> EnergyWindows:
    """Idle, M windows of 'infer N W' (each bracketed by two pulses), idle.

    ``inference_s``: the latency windows' mean inference, the device length of a window whose
    ticks the DUT did not all keep; None for a DUT that reports no device time.
    """
    [single] = dut.input_rows(np.asarray(row).reshape(1, -1))
    dut.session.load_input(single.tobytes())
    time.sleep(idle_s)
    started = time.time()
    counts, device_s, host = [], [], []
    for _ in range(plan.windows):
        result = dut.session.infer(n, plan.warmup)
        counts.append(n)
        host.append(HostWindow(result.host_s, plan.warmup, command_overhead_s))
        if result.ticks is not None and len(result.ticks) == n:
            device_s.append(float(dut.inference_seconds(result.ticks, result.timer_hz).sum()))
        elif inference_s is not None:  # the DUT kept only some ticks: the latency windows' estimate
            device_s.append(n * inference_s)
    ended = time.time()
    time.sleep(idle_s)
    return EnergyWindows(counts, device_s if inference_s is not None else None, host,
                         (started, ended))


def measure_dut_energy(dut: Dut, row: np.ndarray, n: int, timing_plan: TimingPlan,
                       latency: LatencyStats | None, plan: EnergyPlan,
                       options: BenchmarkOptions,
                       command_overhead_s: float = 0.0) -> EnergyResult | None:
    """The energy figure the plan asks for (None when there is none).

    ``latency`` None: the DUT reports no device time (:func:`times_only_by_marks`); each
    window's marks are then checked against the host clock (HostWindow) instead of the device's
    window, and ``command_overhead_s`` is the host time of a command that is not inferences
    (:class:`HostClockEstimate`).
    """
    profile = dut.board.board.power_profile
    if plan.source == "":
        return None
    if plan.source == "model":
        return modeled_energy(latency.latency_ms_p50 / 1e3, profile.active_ma, profile.voltage_v,
                              mode=dut.mode, idle_current_ma=profile.idle_ma)
    _energy_mode_or_fail(dut, plan)
    inference_s = None if latency is None else latency.latency_ms_mean / 1e3

    def run_windows() -> EnergyWindows:
        return _run_energy_windows(dut, row, n, timing_plan, inference_s, options.idle_s,
                                   command_overhead_s)

    if plan.source == "probe":
        from hilbench.measure.energy_probe import JoulescopeProbe

        with JoulescopeProbe(plan.probe_serial, gpi=plan.gpi,
                             sample_rate_hz=options.probe_sample_rate_hz,
                             driver_factory=options.probe_driver_factory) as probe:
            probe.start()
            try:
                windows = run_windows()
            finally:
                trace = probe.stop()
    else:
        windows = run_windows()
        if options.after_energy_windows is not None:
            options.after_energy_windows()
        trace = _read_capture(plan, *windows.span, options)
    if windows.device_s is None:
        return measure_energy(trace, windows.counts, plan.source, host_windows=windows.host)
    return measure_energy(trace, windows.counts, plan.source, expected_window_s=windows.device_s)


def _read_capture(plan: EnergyPlan, started: float, ended: float,
                  options: BenchmarkOptions) -> PowerTrace:
    from hilbench.measure.energy_capture import read_jls_capture

    path = plan.capture_path
    wait_for_capture(path, ended, options.capture_timeout_s)
    # Half the idle time on each side: room for clock offsets between this computer and the
    # one recording, while keeping other commands' pulses out.
    margin = options.idle_s / 2
    return read_jls_capture(path, marker_signal=f"gpi[{plan.gpi}]", serial_number=plan.probe_serial,
                            utc_span=(started - margin, ended + margin))


def wait_for_capture(path: Path, written_after: float, timeout_s: float, poll_s: float = 0.25) -> None:
    """Wait until ``path`` was written after ``written_after`` (Unix s) and stopped growing.

    The recording must go on past the energy windows, so a file last written before they
    ended is an older recording, not this run's.
    """
    deadline = time.monotonic() + timeout_s
    last_size = None
    while True:
        try:
            info = path.stat()
        except FileNotFoundError:
            info = None
        # mtime comes from the kernel's coarse clock: allow it to lag a little.
        if info is not None and info.st_mtime >= written_after - 0.1 and info.st_size > 0:
            if info.st_size == last_size:
                return
            last_size = info.st_size
        if time.monotonic() >= deadline:
            state = "does not exist" if info is None else "was not written after the energy windows ended"
            raise MeasurementError(
                f"energy capture {path} {state} (waited {timeout_s:.0f} s); record it with the "
                "Joulescope software while the benchmark runs and stop recording after the run "
                "(see docs/measurements.md)")
        time.sleep(poll_s)


# ---------------------------------------------------------------- footprint


def firmware_footprint(dut: Dut) -> Footprint | None:
    """Flash, RAM, arena and stack of the DUT's firmware; None for a host executable (its
    sections say nothing about a board) or a pre-flashed board (no ELF here).

    The stack estimate needs the .su/.ci files of a local build; a PlatformIO build has its
    own flags, so its footprint comes without one."""
    from hilbench.build import Firmware

    if dut.mode == "host" or dut.firmware is None:
        return None
    stack_files = dut.firmware.stack_usage_files if isinstance(dut.firmware, Firmware) else ()
    return elf_footprint(dut.firmware.elf_path, arena_symbol=ARENA_SYMBOL,
                         stack_files=stack_files, stack_entry=STACK_ENTRY)


# ---------------------------------------------------------------- the procedure


def benchmark_dut(dut: Dut, options: BenchmarkOptions | None = None,
                  energy: EnergyPlan | None = None) -> BenchmarkResult:
    """Measure one board x model x runtime on a ready DUT; see the module docstring.

    ``energy`` defaults to :func:`energy_plan` for the DUT's board and
    ``options.energy_capture``; the DUT's firmware must match it (energy mode for a probe or
    a capture: open it with :func:`energy_firmware_defines`). Raises MeasurementError (or the
    DUT's errors) instead of returning a figure it cannot stand behind.
    """
    options = options or BenchmarkOptions()
    plan = options.timing or TIMING_PLANS[dut.mode]
    energy = energy or energy_plan(dut.board, options.energy_capture)
    phases = dut.phases

    marks_only = times_only_by_marks(dut)
    if marks_only and not energy.needs_energy_mode:  # before any figure: nothing could time it
        raise MeasurementError(_NOTHING_TIMES_IT.format(board=dut.board.name, url=dut.endpoint.url,
                                                        reason=energy.reason))
    data = reference_data(dut, options.max_vectors, options.dataset)
    protocol: dict[str, Any] = {"firmware": "plain-mlperf" if dut.plain_mlperf else "hilbench"}
    if marks_only:
        protocol["timestamp"] = "energy mode: 'timestamp' pulses the pin, no m-lap-us"
    if dut.plain_mlperf:  # before any figure: may its timing windows run on a clobbered input?
        phases.start("clobber check")
        protocol.update(check_input_clobbering(dut, data.x_int8[0]))
    phases.start("vectors", total=len(data.x_int8))
    outputs, vector_run = dut.read_outputs(data.x_int8, on_vector=phases.advance,
                                           max_twins=options.max_twins, real_values=data.x_float)
    protocol["outputs"] = outputs.kind
    if outputs.kind == "printed":
        protocol["printed_format"] = outputs.printed_format
    phases.start("reference")  # the host's tflite-micro and float model on the same vectors
    expected = interpreter_outputs(dut.model_path, data.x_int8)
    if outputs.kind == "score":
        expected = expected.reshape(len(data.x_int8), -1)
        protocol["printed_scores"] = check_printed_scores(dut, data, outputs, expected)
    else:
        expected = expected.reshape(outputs.scores.shape)
    bitexact = bitexact_rate(outputs.values, expected) if outputs.exact else None
    accuracy = _accuracy(dut, data, outputs, expected)

    phases.start("timing")
    round_trip = host_round_trip_s(dut, options.round_trips)

    row_input = data.x_int8[0]
    if marks_only:
        # MLPerf Tiny's energy mode: no latency windows (there is no device time); the energy
        # windows are sized from the host clock, and timed by the probe's marks.
        estimate = host_clock_inference_s(dut, row_input, plan)
        first_s = estimate.inference_s
        first_estimate = {"first_inference_clock": "host-clock, sizes the energy windows only",
                          "infer_command_overhead_s": estimate.command_overhead_s}
        latency, timing, timing_details = None, None, {}
    else:
        first_s = first_inference_s(dut, row_input, plan)
        first_estimate = {"first_inference_clock": "device"}

        def time_windows(n: int) -> tuple[TimingRun, LatencyStats, dict[str, Any]]:
            timing = _time_windows(dut, row_input, n, plan)
            return (timing, *summarize_timing(dut, timing, plan, round_trip))

        (timing, latency, timing_details), n, rerun = _rerun_once_if_short(
            time_windows, choose_inferences_per_window(first_s, plan), plan)
        if rerun is not None:
            timing_details["rerun_after_short_window"] = rerun
    if protocol.get("clobbers_input"):
        timing_details["clobbered_input"] = (
            "the DUT runs the 2nd and later inferences of 'infer N W' on a clobbered input: "
            "these windows give timing only (latency hardly depends on the input's values), "
            "and no output, accuracy or bit-exactness comes from them")

    phases.start("energy")
    if marks_only:
        energy_result, timing_details = measure_marked_energy(dut, row_input, estimate, plan,
                                                              energy, options, timing_details)
    else:
        energy_result = measure_dut_energy(dut, row_input, n, plan, latency, energy, options)
    phases.start("footprint")
    footprint = firmware_footprint(dut)
    phases.stop()

    # Without device time the row has no latency: no label of the contract names the probe's
    # sample clock, so the time between the marks stays in the figures.
    latency_columns = latency.result_columns() if latency is not None else {
        "latency_source": "", "latency_ms_p50": None, "latency_ms_p90": None,
        "cycles_per_inference": None}
    row = dut.result_row(**latency_columns, bitexact_rate=bitexact)
    if accuracy is not None:
        row.update(accuracy.result_columns())
    if energy_result is not None:
        row.update(energy_result.result_columns())
    if footprint is not None:
        row.update(footprint.result_columns())

    figures = {
        "board": dut.board.name, "model": dut.model_name, "runtime": dut.runtime, "mode": dut.mode,
        "latency_source": row["latency_source"], "energy_source": energy.source,
        "vectors": {"count": int(len(data.x_int8)), "origin": data.origin,
                    "harness": vector_run.harness.as_dict() if vector_run.harness else None},
        "harness_s": {"clock": "host-clock", **phases.seconds},
        "timing_plan": {**asdict(plan), "first_inference_s": first_s, **first_estimate},
        "latency": {**(latency.as_dict() if latency is not None else {}), **timing_details},
        "dut_protocol": protocol,
        "outputs": outputs.kind,
        "accuracy": {**(accuracy.as_dict() if accuracy is not None else {"bitexact_rate": bitexact}),
                     **({} if outputs.exact else {"bitexact_rate": None,
                                                  "bitexact_missing_because": outputs.reason})},
        "energy": {"source": energy.source, "why": energy.reason,
                   **(energy_result.as_dict() if energy_result is not None else {})},
        "footprint": footprint.as_dict() if footprint is not None else None,
    }
    raw = {"outputs": outputs.values if outputs.exact else outputs.scores, "reference_outputs": expected,
           "vector_ticks": np.asarray(vector_run.ticks or ())}
    if timing is not None:
        raw["latency_s"] = (dut.inference_seconds(timing.ticks, timing.timer_hz) if timing.ticks
                            else np.asarray(timing.per_inference_s))
    return BenchmarkResult(row=row, figures=_plain(figures), raw=raw)


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and tuples turned into JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _bytes_per_s(rate: float) -> str:
    for unit, size in (("MB/s", 1e6), ("KB/s", 1e3)):
        if rate >= size:
            return f"{rate / size:.3g} {unit}"
    return f"{rate:.3g} B/s"


def format_details(figures: dict[str, Any]) -> str:
    """One line of the figures the result table has no room for ('' for figures that
    :func:`benchmark_dut` did not make)."""
    latency, energy = figures.get("latency"), figures.get("energy")
    if not isinstance(latency, dict) or not isinstance(energy, dict):
        return ""
    unit = latency["latency_source"]
    if latency.get("timing_source") == "timestamp-marks":
        parts = [f"latency empty (energy-mode firmware, no device time); "
                 f"{latency['time_per_inference_between_marks_ms']:.4g} ms per inference between "
                 f"the timestamp marks (probe sample clock at {latency['timer_rate_hz']:.4g} Hz, "
                 f"not a latency figure), {latency['windows']} x "
                 f"{latency['inferences_per_window']} inferences"]
    else:
        parts = [f"p50 {latency['latency_ms_p50']:.4g} ms [95% CI "
                 f"{latency['latency_ms_p50_ci95_low']:.4g}..{latency['latency_ms_p50_ci95_high']:.4g}]"
                 f" ({unit}), {latency['windows']} x {latency['inferences_per_window']} inferences"]
    if latency.get("host_round_trip_ms") is not None:
        parts.append(f"host round trip {latency['host_round_trip_ms']:.3g} ms (host-clock)")
    if energy.get("energy_per_inference_uj") is not None:
        text = f"avg power {energy['average_power_mw']:.4g} mW ({energy['source']})"
        if energy.get("idle_power_mw") is not None:
            text += f", idle {energy['idle_power_mw']:.4g} mW, idle energy " \
                    f"{energy['idle_energy_per_inference_uj']:.4g} uJ/inference"
        parts.append(text)
    transfer = (figures.get("vectors") or {}).get("harness")
    if transfer and transfer.get("load_bytes_per_s"):
        shared = f" over {transfer['duts']} twins" if transfer.get("duts", 1) > 1 else ""
        parts.append(f"vectors in via {transfer['load_path']} at "
                     f"{_bytes_per_s(transfer['load_bytes_per_s'])} (host-clock){shared}")
    footprint = figures.get("footprint")
    if footprint and footprint.get("stack"):
        stack = footprint["stack"]
        parts.append(f"stack {'<=' if stack['stack_bounded'] else '>='} {stack['stack_bytes']} B, "
                     f"arena {footprint['arena_bytes']} B")
    return f"{figures['board']} {figures['model']}: " + "; ".join(parts)
