"""Latency statistics from per-inference device times, MLPerf Tiny style.

The run stage times ``W`` warm-up inferences (not counted) followed by ``N`` timed
inferences per window, over ``M`` windows. On hardware a window lasts at least
``min_window_s`` so that timer resolution and interrupt noise average out;
:func:`inferences_per_window` picks ``N`` from a first timing. The reported MLPerf Tiny figure
is the median over windows of each window's mean inference time; hilbench also reports
percentiles over all inferences, a bootstrap confidence interval of their median, and the
spread. The host round-trip time (serial command to reply) is a separate field and is never
mixed into the device figures. A DUT that times only whole windows (a plain MLPerf Tiny
firmware) goes through :func:`summarize_window_latency` instead, which says so in
``timing_granularity``.

For emulated runs the device "time" is an instruction count: :func:`icount_to_seconds`
turns it into an estimated latency (instructions x CPI / clock), labelled ``icount``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from hilbench.errors import MeasurementError
from hilbench.measure.labels import check_latency_labels

# MLPerf Tiny's performance mode runs each window for at least 10 s on a real board.
DEFAULT_MIN_WINDOW_S = 10.0
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240601
# Upper bound on the (resamples x samples) index matrix drawn at once, to keep the
# vectorized bootstrap within a few tens of MB however many inferences were timed.
_BOOTSTRAP_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class LatencyStats:
    """Latency figures of one (board, model, runtime, mode). Every field names its unit."""

    mode: str
    latency_source: str
    timing_granularity: str  # "inference": per-inference times; "window": window totals only
    windows: int
    inferences: int
    latency_ms_window_median: float
    latency_ms_p50: float
    latency_ms_p90: float
    latency_ms_p50_ci95_low: float
    latency_ms_p50_ci95_high: float
    latency_ms_min: float
    latency_ms_max: float
    latency_ms_mean: float
    latency_ms_stddev: float
    cycles_per_inference: int | None
    host_round_trip_ms: float | None

    def as_dict(self) -> dict:
        """All fields as a plain dict (for JSON run folders)."""
        return asdict(self)

    def result_columns(self) -> dict:
        """The fields that fill leaderboard columns (see hilbench.record.schema)."""
        return {
            "mode": self.mode,
            "latency_source": self.latency_source,
            "latency_ms_p50": self.latency_ms_p50,
            "latency_ms_p90": self.latency_ms_p90,
            "cycles_per_inference": self.cycles_per_inference,
        }


def inferences_per_window(first_inference_s: float, min_window_s: float = DEFAULT_MIN_WINDOW_S,
                          min_inferences: int = 1, max_inferences: int | None = None) -> int:
    """Number of inferences N so that a window of N inferences lasts at least ``min_window_s``.

    ``first_inference_s`` is the device time of one inference from a first, untimed probe run.
    ``max_inferences`` caps N (a window then lasts less than ``min_window_s``; the caller
    decides whether that is acceptable, e.g. on an emulator where time is deterministic).
    """
    if not (math.isfinite(first_inference_s) and first_inference_s > 0):
        raise MeasurementError(
            f"first inference time {first_inference_s!r} s is not a positive number: "
            "the device timer returned no usable time; check the DUT's timer")
    if min_window_s < 0:
        raise MeasurementError(f"min_window_s must be >= 0, got {min_window_s}")
    if min_inferences < 1:
        raise MeasurementError(f"min_inferences must be >= 1, got {min_inferences}")
    count = max(min_inferences, math.ceil(min_window_s / first_inference_s))
    if max_inferences is not None:
        if max_inferences < min_inferences:
            raise MeasurementError(
                f"max_inferences ({max_inferences}) is below min_inferences ({min_inferences})")
        count = min(count, max_inferences)
    return count


def icount_to_seconds(instructions: np.ndarray | Sequence[float] | float, cpi: float,
                      clock_hz: float) -> np.ndarray:
    """Estimated latency of emulated inferences: instructions x cycles-per-instruction / clock.

    QEMU with ``-icount`` counts instructions, not cycles; ``cpi`` is the board's average
    cycles per instruction (1.0 if unknown, a documented assumption). Label the result
    ``latency_source="icount"``.
    """
    if not (math.isfinite(cpi) and cpi > 0):
        raise MeasurementError(f"cpi must be a positive number, got {cpi!r}")
    if not (math.isfinite(clock_hz) and clock_hz > 0):
        raise MeasurementError(f"clock_hz must be a positive number, got {clock_hz!r}")
    counts = np.asarray(instructions, dtype=np.float64)
    if np.any(~np.isfinite(counts)) or np.any(counts < 0):
        raise MeasurementError("instruction counts must be finite and >= 0")
    return counts * cpi / clock_hz


def bootstrap_median_ci(samples: np.ndarray, confidence: float = 0.95,
                        resamples: int = BOOTSTRAP_RESAMPLES,
                        seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median of ``samples``.

    Resampling uses a fixed seed so that the same timings always give the same interval.
    """
    values = np.asarray(samples, dtype=np.float64).ravel()
    if values.size == 0:
        raise MeasurementError("cannot bootstrap the median of no samples")
    if not 0 < confidence < 1:
        raise MeasurementError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    medians = np.empty(resamples)
    rows_per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // values.size)
    for start in range(0, resamples, rows_per_chunk):
        rows = min(rows_per_chunk, resamples - start)
        picks = rng.integers(0, values.size, size=(rows, values.size))
        medians[start:start + rows] = np.median(values[picks], axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(medians, [tail, 100.0 - tail])
    return float(low), float(high)


def summarize_latency(windows: Sequence[Sequence[float]], mode: str, latency_source: str,
                      warmup_per_window: int = 0, host_round_trip_s: float | None = None,
                      clock_hz: float | None = None,
                      min_window_s: float | None = None) -> LatencyStats:
    """Latency statistics from per-window lists of per-inference device times in seconds.

    ``warmup_per_window`` leading entries of each window are warm-up inferences and are
    dropped. ``host_round_trip_s`` (host send -> reply time of one command) is reported as
    its own field only. With ``clock_hz``, ``cycles_per_inference`` is the median latency in
    core clock cycles. With ``min_window_s`` (hardware runs, MLPerf Tiny rule) a window whose
    timed inferences add up to less is refused.
    """
    check_latency_labels(mode, latency_source)
    if warmup_per_window < 0:
        raise MeasurementError(f"warmup_per_window must be >= 0, got {warmup_per_window}")
    if len(windows) == 0:
        raise MeasurementError("no timing windows were given: the run produced no timed inferences")
    timed_windows = []
    for index, window in enumerate(windows):
        times = np.asarray(window, dtype=np.float64).ravel()[warmup_per_window:]
        if times.size == 0:
            raise MeasurementError(
                f"timing window {index} has no timed inferences after dropping "
                f"{warmup_per_window} warm-up inference(s)")
        if np.any(~np.isfinite(times)) or np.any(times <= 0):
            bad = float(times[~(np.isfinite(times) & (times > 0))][0])
            raise MeasurementError(
                f"timing window {index} holds a non-positive or non-finite time ({bad!r} s): "
                "the device timer wrapped or the reply was misread")
        if min_window_s is not None and times.sum() < min_window_s:
            raise MeasurementError(
                f"timing window {index} lasts {times.sum():.3f} s, under the minimum "
                f"{min_window_s} s; run more inferences per window (inferences_per_window())")
        timed_windows.append(times)

    all_times = np.concatenate(timed_windows)
    window_means = np.array([window.mean() for window in timed_windows])
    return _statistics(mode, latency_source, "inference", all_times, window_means,
                       int(all_times.size), host_round_trip_s, clock_hz)


def summarize_window_latency(window_totals_s: Sequence[float], inferences_per_window: Sequence[int],
                             mode: str, latency_source: str,
                             host_round_trip_s: float | None = None, clock_hz: float | None = None,
                             min_window_s: float | None = None) -> LatencyStats:
    """Latency statistics for a DUT that only times whole windows.

    A plain MLPerf Tiny DUT prints one timestamp before and one after ``infer N W``, so only
    each window's total time is known. Then every per-inference figure (percentiles, CI,
    min/max/stddev) is taken over the windows' mean inference times, and
    ``timing_granularity`` is ``"window"`` to say so; nothing is invented per inference.
    """
    check_latency_labels(mode, latency_source)
    totals = np.asarray(window_totals_s, dtype=np.float64).ravel()
    counts = np.asarray(inferences_per_window).ravel()
    if totals.size == 0:
        raise MeasurementError("no timing windows were given: the run produced no timed inferences")
    if totals.shape != counts.shape:
        raise MeasurementError(
            f"{totals.size} window times but {counts.size} inference counts; give one count per window")
    if np.any(counts < 1):
        raise MeasurementError(f"every window needs >= 1 timed inference, got counts {counts.tolist()}")
    for index, total in enumerate(totals):
        if not (math.isfinite(total) and total > 0):
            raise MeasurementError(
                f"timing window {index} lasts {float(total)!r} s: the device timer wrapped or the reply "
                "was misread")
        if min_window_s is not None and total < min_window_s:
            raise MeasurementError(
                f"timing window {index} lasts {total:.3f} s, under the minimum "
                f"{min_window_s} s; run more inferences per window (inferences_per_window())")
    window_means = totals / counts
    return _statistics(mode, latency_source, "window", window_means, window_means,
                       int(counts.sum()), host_round_trip_s, clock_hz)


def _statistics(mode: str, latency_source: str, granularity: str, samples_s: np.ndarray,
                window_means_s: np.ndarray, inferences: int, host_round_trip_s: float | None,
                clock_hz: float | None) -> LatencyStats:
    """The one place where the figures are computed from validated timings in seconds."""
    ci_low, ci_high = bootstrap_median_ci(samples_s)
    p50, p90 = np.percentile(samples_s, [50, 90])

    cycles = None
    if clock_hz is not None:
        if not (math.isfinite(clock_hz) and clock_hz > 0):
            raise MeasurementError(f"clock_hz must be a positive number, got {clock_hz!r}")
        cycles = int(round(p50 * clock_hz))

    round_trip_ms = None
    if host_round_trip_s is not None:
        if not (math.isfinite(host_round_trip_s) and host_round_trip_s >= 0):
            raise MeasurementError(f"host round-trip time must be >= 0 s, got {host_round_trip_s!r}")
        round_trip_ms = host_round_trip_s * 1e3

    return LatencyStats(
        mode=mode,
        latency_source=latency_source,
        timing_granularity=granularity,
        windows=len(window_means_s),
        inferences=inferences,
        latency_ms_window_median=float(np.median(window_means_s)) * 1e3,
        latency_ms_p50=float(p50) * 1e3,
        latency_ms_p90=float(p90) * 1e3,
        latency_ms_p50_ci95_low=ci_low * 1e3,
        latency_ms_p50_ci95_high=ci_high * 1e3,
        latency_ms_min=float(samples_s.min()) * 1e3,
        latency_ms_max=float(samples_s.max()) * 1e3,
        latency_ms_mean=float(samples_s.mean()) * 1e3,
        # Sample standard deviation (ddof=1); 0 for a single sample.
        latency_ms_stddev=float(samples_s.std(ddof=1)) * 1e3 if samples_s.size > 1 else 0.0,
        cycles_per_inference=cycles,
        host_round_trip_ms=round_trip_ms,
    )
