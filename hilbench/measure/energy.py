"""Energy per inference from a power trace with timestamp marks, or from a power model.

One analysis serves both measured sources: a live Joulescope (``probe``,
:mod:`hilbench.measure.energy_probe`) and a recorded JLS file (``capture``,
:mod:`hilbench.measure.energy_capture`) are both turned into a :class:`PowerTrace`, and
:func:`measure_energy` windows and integrates it.

Windowing, MLPerf Tiny style: the firmware pulses a GPIO (wired to a Joulescope general
purpose input) at each timestamp. Each timing window of ``N`` inferences is bracketed by two
marks, at its start and at its end, so a run of ``M`` windows must show exactly ``2 x M``
marks. Anything else (a missed or extra mark, a window whose length disagrees with the
device timer) raises :class:`MeasurementError` instead of producing a number. A DUT with no
timer of its own (a plain MLPerf Tiny DUT in energy mode) is checked against the host clock
instead (:class:`HostWindow`).

The third source, ``model``, multiplies the board's power profile by the latency
(:func:`modeled_energy`) for emulated boards; it is labelled as such.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from hilbench.errors import MeasurementError
from hilbench.measure.labels import check_energy_labels

MARK_EDGES = ("falling", "rising")
# MLPerf Tiny's EnergyRunner timestamp: the DUT pulls the pin low for >= 1 us; the falling
# edge is the timestamp.
DEFAULT_MARK_EDGE = "falling"
# A window measured between marks must agree with the device timer's window length within
# this relative tolerance, otherwise the marks are not the ones we think they are.
DEFAULT_WINDOW_TOLERANCE = 0.05
# Power samples this close to a mark are left out of the idle baseline: the DUT is still
# waking up or printing its timestamp there.
IDLE_GUARD_S = 1e-3
# Checking a window against the host clock (HostWindow). Both marks of a window happen between
# the host sending 'infer N W' and reading its m-ready, so the window cannot be longer than
# that, give or take: the two clocks' rates (a probe's and a computer's crystal are each within
# about 100 ppm; 0.1% is five times their sum), one sample period per mark (a mark is the first
# sample after its edge), and the granularity of the host's clock readings (1 ms covers it).
HOST_CLOCK_RATE_TOLERANCE = 1e-3
HOST_READING_SLACK_S = 1e-3
# ...and it cannot be much shorter than the host's time for its N timed inferences: the command
# runs W + N inferences of the same input, plus its serial traffic (the command, the printed
# results, m-ready), which the same command without its inferences takes (HostWindow.overhead_s).
# A quarter of that leaves room for a host that reads m-ready late in proportion, and still
# refuses a mark pair that covers less than a quarter of a window, which a glitch early in a
# window paired with a lost mark gives. The host's late reads are also absolute: a USB serial
# adapter holds bytes for its latency timer (16 ms on an FTDI by default) and a loaded host is
# scheduled in slices of milliseconds, so HOST_LATE_READ_S comes off the command's time first.
# Against a 10 s hardware window it changes nothing; a window of a few ms goes unchecked below.
HOST_WINDOW_MIN_SHARE = 0.25
HOST_LATE_READ_S = 0.05


@dataclass(frozen=True)
class SampledSignal:
    """A fixed-rate signal on the probe's clock: ``values[k]`` covers the time interval
    [first_sample_s + k / sample_rate_hz, first_sample_s + (k + 1) / sample_rate_hz)."""

    sample_rate_hz: float
    first_sample_s: float
    values: np.ndarray

    @property
    def end_s(self) -> float:
        """Time just after the last sample."""
        return self.first_sample_s + len(self.values) / self.sample_rate_hz


@dataclass(frozen=True)
class PowerTrace:
    """Power drawn by the DUT and the level of its timestamp GPI, from a probe or a capture.

    ``origin`` names where the data came from (a file path, a probe serial number); error
    messages quote it.
    """

    power_w: SampledSignal
    marker: SampledSignal
    origin: str


@dataclass(frozen=True)
class HostWindow:
    """What the host clock saw of one energy window's 'infer N W' command: the check of a
    window's marks for a DUT that reports no device time of its own."""

    command_s: float
    """Host-clock seconds from sending the command to reading its m-ready."""
    warmup: int
    """W: the warm-up inferences that ran before the window's first mark."""
    overhead_s: float
    """Host-clock seconds of such a command that are not inferences: sending it, reading its
    printed results and m-ready."""
    late_read_s: float = HOST_LATE_READ_S
    """How late the host may read m-ready beyond ``overhead_s`` (adapter latency, scheduling)."""

    def bounds_s(self, inferences: int, sample_period_s: float) -> tuple[float, float]:
        """(shortest, longest) plausible length between the marks of a window of
        ``inferences`` timed inferences (see HOST_WINDOW_MIN_SHARE and HOST_CLOCK_RATE_TOLERANCE)."""
        longest = (self.command_s * (1 + HOST_CLOCK_RATE_TOLERANCE) + HOST_READING_SLACK_S
                   + 2 * sample_period_s)
        timed_s = (max(0.0, self.command_s - self.overhead_s - self.late_read_s)
                   * inferences / (inferences + self.warmup))
        return HOST_WINDOW_MIN_SHARE * timed_s, longest


@dataclass(frozen=True)
class EnergyResult:
    """Energy figures of one run. Every field names its unit; per-inference figures are the
    median over windows of (window figure / inferences in the window), as in MLPerf Tiny."""

    energy_source: str
    mode: str
    windows: int
    inferences: int
    energy_per_inference_uj: float
    average_power_mw: float
    inference_time_ms: float
    idle_power_mw: float | None
    idle_energy_per_inference_uj: float | None
    active_energy_per_inference_uj: float | None
    window_energy_uj: tuple[float, ...]
    window_s: tuple[float, ...] = ()
    """Length of each window between its marks (measured sources)."""
    marks_sample_rate_hz: float | None = None
    """Sample rate of the timestamp marks: a mark is exact to one sample period (measured
    sources)."""

    def as_dict(self) -> dict:
        """All fields as a plain dict."""
        return asdict(self)

    def result_columns(self) -> dict:
        """The fields that fill leaderboard columns."""
        return {"energy_source": self.energy_source, "energy_uj": self.energy_per_inference_uj}


def power_trace_from_signals(marker: SampledSignal, origin: str,
                             current_a: SampledSignal | None = None,
                             voltage_v: SampledSignal | None = None,
                             power_w: SampledSignal | None = None,
                             supply_voltage_v: float | None = None) -> PowerTrace:
    """Build a :class:`PowerTrace` from whatever the probe recorded.

    Power is taken, in order of preference, from a power signal, from current x voltage, or
    from current x a known ``supply_voltage_v`` (a constant supply the user vouches for).
    """
    if power_w is None:
        if current_a is None:
            raise MeasurementError(
                f"{origin}: has neither a 'power' nor a 'current' signal; record current "
                "(and voltage) with the timestamp GPI")
        if voltage_v is not None:
            current_a, voltage_v = _common_span(current_a, voltage_v, origin)
            power_w = SampledSignal(current_a.sample_rate_hz, current_a.first_sample_s,
                                    current_a.values.astype(np.float64) * voltage_v.values)
        elif supply_voltage_v is not None:
            if not (math.isfinite(supply_voltage_v) and supply_voltage_v > 0):
                raise MeasurementError(f"supply voltage must be > 0 V, got {supply_voltage_v!r}")
            power_w = SampledSignal(current_a.sample_rate_hz, current_a.first_sample_s,
                                    current_a.values.astype(np.float64) * supply_voltage_v)
        else:
            raise MeasurementError(
                f"{origin}: has current but no voltage or power signal; record voltage too, "
                "or give the board's supply voltage")
    # float32 samples stay float32 (the probe's own precision): a minute at 1 MHz is then
    # 240 MB, not 480 MB; every sum over them is taken in float64.
    values = np.asarray(power_w.values)
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    if values.size == 0:
        raise MeasurementError(f"{origin}: the power signal holds no samples")
    if np.any(~np.isfinite(values)):
        # The Joulescope marks dropped or invalid samples as NaN.
        first_bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise MeasurementError(
            f"{origin}: power signal has missing (NaN) samples from "
            f"t={power_w.first_sample_s + first_bad / power_w.sample_rate_hz:.6f} s; "
            "the probe dropped data, record again")
    power_w = SampledSignal(float(power_w.sample_rate_hz), float(power_w.first_sample_s), values)
    return PowerTrace(power_w=power_w, marker=_crop_to(marker, power_w), origin=origin)


def _crop_to(signal: SampledSignal, span: SampledSignal) -> SampledSignal:
    """The samples of ``signal`` inside the time span of ``span``.

    Digital inputs are stored 8 samples per byte, so a recording can carry padding bits past
    its real end (or start earlier than the analog signals); a mark there cannot be
    integrated, and padding must not be read as an edge.
    """
    rate = signal.sample_rate_hz
    start = max(0, math.ceil(round((span.first_sample_s - signal.first_sample_s) * rate, 6)))
    stop = min(len(signal.values), math.floor(round((span.end_s - signal.first_sample_s) * rate, 6)))
    stop = max(start, stop)
    return SampledSignal(rate, signal.first_sample_s + start / rate, np.asarray(signal.values)[start:stop])


def _common_span(a: SampledSignal, b: SampledSignal, origin: str) -> tuple[SampledSignal, SampledSignal]:
    """Crop two same-rate signals to the samples they both cover."""
    if a.sample_rate_hz != b.sample_rate_hz:
        raise MeasurementError(
            f"{origin}: current is sampled at {a.sample_rate_hz} Hz but voltage at "
            f"{b.sample_rate_hz} Hz; record both at the same rate")
    rate = a.sample_rate_hz
    offset = round((b.first_sample_s - a.first_sample_s) * rate)  # b starts this many samples later
    start_a, start_b = max(0, offset), max(0, -offset)
    count = min(len(a.values) - start_a, len(b.values) - start_b)
    if count <= 0:
        raise MeasurementError(f"{origin}: current and voltage do not overlap in time")
    first = a.first_sample_s + start_a / rate
    return (SampledSignal(rate, first, np.asarray(a.values[start_a:start_a + count])),
            SampledSignal(rate, first, np.asarray(b.values[start_b:start_b + count])))


def mark_times_s(marker: SampledSignal, edge: str = DEFAULT_MARK_EDGE) -> np.ndarray:
    """Times of the timestamp marks: the given edge of each GPI pulse, at the first sample
    after the transition."""
    if edge not in MARK_EDGES:
        raise MeasurementError(f"mark edge {edge!r} is not known (known: {', '.join(MARK_EDGES)})")
    levels = np.asarray(marker.values) != 0
    if edge == "falling":
        transitions = np.flatnonzero(levels[:-1] & ~levels[1:]) + 1
    else:
        transitions = np.flatnonzero(~levels[:-1] & levels[1:]) + 1
    return marker.first_sample_s + transitions / marker.sample_rate_hz


def _cumulative_energy_j(power: SampledSignal, times_s: np.ndarray) -> np.ndarray:
    """Energy drawn from the start of ``power`` up to each time, exactly for a power that is
    constant over each sample interval (fractions of a sample are interpolated).

    Sums run over slices in float64, without a cumulative copy of the whole trace."""
    values = power.values
    position = (np.asarray(times_s, dtype=np.float64) - power.first_sample_s) * power.sample_rate_hz
    whole = np.clip(np.floor(position).astype(np.int64), 0, len(values))
    energy = np.empty(len(position))
    done, running = 0, 0.0
    for index in np.argsort(whole, kind="stable"):   # one pass over the trace, in time order
        running += float(np.sum(values[done:whole[index]], dtype=np.float64))
        done = whole[index]
        fraction = position[index] - whole[index]
        partial = fraction * float(values[done]) if done < len(values) and fraction > 0 else 0.0
        energy[index] = running + partial
    return energy / power.sample_rate_hz


def _idle_power_w(trace: PowerTrace, window_bounds: np.ndarray) -> float | None:
    """Median power outside every window, at least IDLE_GUARD_S away from any mark; None
    when the capture has no such stretch."""
    power = trace.power_w
    rate = power.sample_rate_hz
    idle = np.ones(len(power.values), dtype=bool)
    for start, end in window_bounds:
        # Sample i (centred at first + (i + 0.5) / rate) is excluded when its centre lies
        # strictly within the guarded window.
        low = (start - IDLE_GUARD_S - power.first_sample_s) * rate - 0.5
        high = (end + IDLE_GUARD_S - power.first_sample_s) * rate - 0.5
        first_out = max(0, math.floor(low) + 1)
        last_out = min(len(idle), math.ceil(high))
        idle[first_out:last_out] = False
    if not idle.any():
        return None
    return float(np.median(power.values[idle]))


def measure_energy(trace: PowerTrace, inferences_per_window: Sequence[int], energy_source: str,
                   expected_window_s: Sequence[float] | None = None,
                   window_tolerance: float = DEFAULT_WINDOW_TOLERANCE,
                   mark_edge: str = DEFAULT_MARK_EDGE,
                   host_windows: Sequence[HostWindow] | None = None) -> EnergyResult:
    """Energy per inference from a power trace whose marks bracket each timing window.

    ``inferences_per_window[i]`` is the number of timed inferences in window ``i``.
    ``expected_window_s[i]``, when given, is the device timer's length of window ``i``; the
    length between its marks must agree within ``window_tolerance`` (relative).
    ``host_windows[i]``, when given (a DUT without a timer), is what the host clock saw of
    window ``i``'s command; the length between its marks must lie within its bounds.
    ``energy_source`` is ``probe`` or ``capture``.
    """
    if energy_source not in ("probe", "capture"):
        raise MeasurementError(
            f"measure_energy analyses measured traces (energy_source 'probe' or 'capture'), "
            f"got {energy_source!r}; use modeled_energy() for a power model")
    check_energy_labels("hardware", energy_source)
    counts = [int(n) for n in inferences_per_window]
    if not counts or any(n < 1 for n in counts):
        raise MeasurementError(
            f"inferences_per_window must list >= 1 inference per window, got {counts}")
    marks = mark_times_s(trace.marker, mark_edge)
    expected_marks = 2 * len(counts)
    if len(marks) != expected_marks:
        raise MeasurementError(
            f"{trace.origin}: found {len(marks)} timestamp marks ({mark_edge} edges on the "
            f"timestamp GPI) but {len(counts)} window(s) need {expected_marks} (one at the start "
            "and one at the end of each); a mark was missed or a glitch added one. Check the "
            "GPI wiring and that the capture covers the whole run")
    bounds = marks.reshape(-1, 2)
    power = trace.power_w
    if bounds[0, 0] < power.first_sample_s or bounds[-1, 1] > power.end_s:
        raise MeasurementError(
            f"{trace.origin}: the timestamp marks span {bounds[0, 0]:.6f}..{bounds[-1, 1]:.6f} s but "
            f"power was recorded only over {power.first_sample_s:.6f}..{power.end_s:.6f} s")
    durations = bounds[:, 1] - bounds[:, 0]
    if expected_window_s is not None:
        expected = np.asarray(expected_window_s, dtype=np.float64)
        if expected.shape != durations.shape:
            raise MeasurementError(
                f"{len(expected)} device window lengths given for {len(durations)} windows")
        deviation = np.abs(durations - expected) / expected
        worst = int(np.argmax(deviation))
        if deviation[worst] > window_tolerance:
            raise MeasurementError(
                f"{trace.origin}: window {worst} lasts {durations[worst] * 1e3:.3f} ms between its "
                f"marks but {expected[worst] * 1e3:.3f} ms by the device timer "
                f"({deviation[worst]:.1%} apart, tolerance {window_tolerance:.0%}); the marks do "
                "not belong to the timed windows (glitch or missed pulse)")
    if host_windows is not None:
        _check_against_host(durations, counts, host_windows, trace)

    cumulative = _cumulative_energy_j(power, bounds.ravel()).reshape(-1, 2)
    window_energy_j = cumulative[:, 1] - cumulative[:, 0]
    per_inference_j = window_energy_j / np.asarray(counts)
    inference_time_s = durations / np.asarray(counts)
    energy_uj = float(np.median(per_inference_j)) * 1e6
    time_ms = float(np.median(inference_time_s)) * 1e3

    idle_w = _idle_power_w(trace, bounds)
    idle_uj = None if idle_w is None else idle_w * time_ms * 1e3
    return EnergyResult(
        energy_source=energy_source,
        mode="hardware",
        windows=len(counts),
        inferences=sum(counts),
        energy_per_inference_uj=energy_uj,
        average_power_mw=float(window_energy_j.sum() / durations.sum()) * 1e3,
        inference_time_ms=time_ms,
        idle_power_mw=None if idle_w is None else idle_w * 1e3,
        idle_energy_per_inference_uj=idle_uj,
        active_energy_per_inference_uj=None if idle_uj is None else energy_uj - idle_uj,
        window_energy_uj=tuple(float(e) * 1e6 for e in window_energy_j),
        window_s=tuple(float(d) for d in durations),
        marks_sample_rate_hz=float(trace.marker.sample_rate_hz),
    )


def _check_against_host(durations: np.ndarray, counts: Sequence[int],
                        host_windows: Sequence[HostWindow], trace: PowerTrace) -> None:
    if len(host_windows) != len(durations):
        raise MeasurementError(
            f"{len(host_windows)} host-clock window lengths given for {len(durations)} windows")
    period_s = 1 / trace.marker.sample_rate_hz
    for index, (duration, count, host) in enumerate(zip(durations, counts, host_windows)):
        shortest, longest = host.bounds_s(count, period_s)
        if duration > longest:
            raise MeasurementError(
                f"{trace.origin}: window {index} lasts {duration * 1e3:.3f} ms between its marks, "
                f"longer than the host saw its 'infer {count} {host.warmup}' command take "
                f"({host.command_s * 1e3:.3f} ms host-clock, at most {longest * 1e3:.3f} ms with "
                "slack); the marks do not belong to the timed windows (glitch or missed pulse)")
        if duration < shortest:
            raise MeasurementError(
                f"{trace.origin}: window {index} lasts {duration * 1e3:.3f} ms between its marks, "
                f"under {shortest * 1e3:.3f} ms ({HOST_WINDOW_MIN_SHARE:.0%} of what the host "
                f"clock gives its {count} timed inferences: 'infer {count} {host.warmup}' took "
                f"{host.command_s * 1e3:.3f} ms, {host.overhead_s * 1e3:.3f} ms of it serial, "
                f"{host.late_read_s * 1e3:.0f} ms allowed for late reads); "
                "the marks do not belong to the timed windows (glitch or missed pulse)")


def modeled_energy(latency_s: float, active_current_ma: float, supply_voltage_v: float,
                   mode: str = "emulated", idle_current_ma: float | None = None,
                   inferences: int = 1) -> EnergyResult:
    """Modeled energy per inference: active current x supply voltage x latency.

    For emulated boards (or hardware without a probe): the figure comes from the board's
    power profile, not from a measurement, and is labelled ``energy_source="model"``.
    """
    check_energy_labels(mode, "model")
    for name, value in (("latency_s", latency_s), ("active_current_ma", active_current_ma),
                        ("supply_voltage_v", supply_voltage_v)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise MeasurementError(
                f"power model needs a positive {name}, got {value!r}; check the board's power profile")
    if idle_current_ma is not None and not (math.isfinite(idle_current_ma) and idle_current_ma >= 0):
        raise MeasurementError(f"idle_current_ma must be >= 0, got {idle_current_ma!r}")
    active_power_w = active_current_ma * 1e-3 * supply_voltage_v
    energy_uj = active_power_w * latency_s * 1e6
    idle_w = None if idle_current_ma is None else idle_current_ma * 1e-3 * supply_voltage_v
    idle_uj = None if idle_w is None else idle_w * latency_s * 1e6
    return EnergyResult(
        energy_source="model",
        mode=mode,
        windows=1,
        inferences=inferences,
        energy_per_inference_uj=energy_uj,
        average_power_mw=active_power_w * 1e3,
        inference_time_ms=latency_s * 1e3,
        idle_power_mw=None if idle_w is None else idle_w * 1e3,
        idle_energy_per_inference_uj=idle_uj,
        active_energy_per_inference_uj=None if idle_uj is None else energy_uj - idle_uj,
        window_energy_uj=(energy_uj * inferences,),
    )
