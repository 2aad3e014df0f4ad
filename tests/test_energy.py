"""Energy per inference from a known current waveform, through a JLS capture and through a
live-probe replay, analysed by the same code.

The waveform is defined as exact piecewise-constant segments (idle, inferences with a
compute phase and a memory phase, UART bursts between windows) with transitions that do not
fall on sample boundaries. Samples are the exact average over their interval plus fixed-seed
noise, as a Joulescope's filtered ADC reports them. The expected energy is the exact integral
of the segments, computed independently of the sampled data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np
import pyjls
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hilbench.errors import MeasurementError
from hilbench.measure.energy import (HostWindow, SampledSignal, mark_times_s, measure_energy,
                                     modeled_energy, power_trace_from_signals)
from hilbench.measure.energy_capture import read_jls_capture
from hilbench.measure.energy_probe import JoulescopeProbe

SAMPLE_RATE_HZ = 1_000_000
FIRST_SAMPLE_ID = 4_000  # the probe's counter does not start at zero in a real recording
IDLE_A, IDLE_V = 2.0e-3, 3.300
COMPUTE_A, MEMORY_A, ACTIVE_V = 12.5e-3, 6.25e-3, 3.284
UART_A = 4.0e-3
INFERENCE_S = 2.3456e-3  # not a whole number of samples
COMPUTE_SHARE = 0.8
PULSE_S = 5e-6
NOISE_A = 0.2e-3


@dataclass
class Waveform:
    current_a: np.ndarray  # float32 samples
    voltage_v: np.ndarray
    gpi: np.ndarray  # 0/1 samples of the timestamp input, idle high
    inferences_per_window: list[int]
    window_s: list[float]
    mark_times_s: list[float]  # exact (unsampled) mark times, probe clock
    exact_energy_per_inference_j: float
    exact_idle_power_w: float


def make_waveform(inferences_per_window=(9, 8, 9, 10), seed: int = 7) -> Waveform:
    """Current/voltage/GPI samples of a benchmark run, and its exact energy."""
    t0 = FIRST_SAMPLE_ID / SAMPLE_RATE_HZ
    segments = []  # (start_s, end_s, current_a, voltage_v)
    marks = []
    t = t0 + 0.0203
    segments.append((t0, t, IDLE_A, IDLE_V))
    for window, count in enumerate(inferences_per_window):
        marks.append(t)
        for _ in range(count):
            split = t + INFERENCE_S * COMPUTE_SHARE
            segments.append((t, split, COMPUTE_A, ACTIVE_V))
            segments.append((split, t + INFERENCE_S, MEMORY_A, ACTIVE_V))
            t += INFERENCE_S
        marks.append(t)
        # Between windows the DUT prints its results over UART, then waits idle.
        segments.append((t, t + 1.1e-3, UART_A, IDLE_V))
        segments.append((t + 1.1e-3, t + 0.0157, IDLE_A, IDLE_V))
        t += 0.0157
    end = t

    breakpoints = np.array([s[0] for s in segments] + [segments[-1][1]])
    samples = int((end - t0) * SAMPLE_RATE_HZ)
    edges = t0 + np.arange(samples + 1) / SAMPLE_RATE_HZ

    def sampled(level_index: int) -> np.ndarray:
        # Exact average of the piecewise-constant level over each sample interval.
        levels = np.array([s[level_index] for s in segments])
        cumulative = np.concatenate(([0.0], np.cumsum(levels * np.diff(breakpoints))))
        return np.diff(np.interp(edges, breakpoints, cumulative)) * SAMPLE_RATE_HZ

    rng = np.random.default_rng(seed)
    current = sampled(2) + rng.normal(0.0, NOISE_A, samples)
    voltage = sampled(3)
    sample_start = edges[:-1]
    gpi = np.ones(samples, dtype=np.uint8)
    for mark in marks:
        gpi[(sample_start >= mark) & (sample_start < mark + PULSE_S)] = 0

    per_inference_j = INFERENCE_S * ACTIVE_V * (COMPUTE_SHARE * COMPUTE_A + (1 - COMPUTE_SHARE) * MEMORY_A)
    return Waveform(current.astype(np.float32), voltage.astype(np.float32), gpi,
                    list(inferences_per_window), [n * INFERENCE_S for n in inferences_per_window],
                    marks, per_inference_j, IDLE_A * IDLE_V)


def write_jls(path, waveform: Waveform, gpi_lead_samples: int = 0, with_voltage: bool = True) -> None:
    """Record ``waveform`` as the Joulescope software does: one source, FSR signals, the
    GPI as packed u1; ``gpi_lead_samples`` starts the GPI recording earlier than current."""
    with pyjls.Writer(str(path)) as writer:
        writer.source_def(source_id=1, name="JS220-000415", vendor="Jetperch", model="JS220",
                          version="1.0.0", serial_number="000415")
        analog = [("current", "A", waveform.current_a)]
        if with_voltage:
            analog.append(("voltage", "V", waveform.voltage_v))
        for signal_id, (name, units, _) in enumerate(analog, 1):
            writer.signal_def(signal_id=signal_id, source_id=1, signal_type=pyjls.SignalType.FSR,
                              data_type=pyjls.DataType.F32, sample_rate=SAMPLE_RATE_HZ,
                              name=name, units=units)
        gpi_id = len(analog) + 1
        writer.signal_def(signal_id=gpi_id, source_id=1, signal_type=pyjls.SignalType.FSR,
                          data_type=pyjls.DataType.U1, sample_rate=SAMPLE_RATE_HZ,
                          name="gpi[0]", units="")
        block = 100_000
        for signal_id, (_, _, data) in enumerate(analog, 1):
            for start in range(0, len(data), block):
                writer.fsr(signal_id, FIRST_SAMPLE_ID + start, data[start:start + block])
        gpi = np.concatenate((np.ones(gpi_lead_samples, np.uint8), waveform.gpi))
        # Whole bytes per block (the JLS u1 format packs 8 samples per byte).
        for start in range(0, len(gpi), block):
            writer.fsr(gpi_id, FIRST_SAMPLE_ID - gpi_lead_samples + start,
                       np.packbits(gpi[start:start + block], bitorder="little"))


def assert_close(measured: float, exact: float, relative: float) -> None:
    assert abs(measured - exact) <= relative * abs(exact), f"{measured} vs exact {exact}"


def check_result(result, waveform: Waveform, source: str) -> None:
    assert result.energy_source == source and result.mode == "hardware"
    assert result.windows == len(waveform.inferences_per_window)
    assert result.inferences == sum(waveform.inferences_per_window)
    assert_close(result.energy_per_inference_uj, waveform.exact_energy_per_inference_j * 1e6, 1e-3)
    assert_close(result.inference_time_ms, INFERENCE_S * 1e3, 1e-3)
    assert_close(result.average_power_mw,
                 waveform.exact_energy_per_inference_j / INFERENCE_S * 1e3, 1e-3)
    # The idle baseline is the median power outside the windows: the UART bursts between
    # windows must not pull it up.
    assert_close(result.idle_power_mw, waveform.exact_idle_power_w * 1e3, 1e-2)
    assert_close(result.idle_energy_per_inference_uj,
                 waveform.exact_idle_power_w * INFERENCE_S * 1e6, 1e-2)
    assert result.active_energy_per_inference_uj == pytest.approx(
        result.energy_per_inference_uj - result.idle_energy_per_inference_uj)
    for count, window_uj in zip(waveform.inferences_per_window, result.window_energy_uj):
        assert_close(window_uj, count * waveform.exact_energy_per_inference_j * 1e6, 1e-3)


@pytest.fixture(scope="module")
def waveform() -> Waveform:
    return make_waveform()


# --- capture --------------------------------------------------------------------------------

def test_capture_energy_matches_exact_integral(tmp_path, waveform):
    path = tmp_path / "run.jls"
    write_jls(path, waveform, gpi_lead_samples=13)
    trace = read_jls_capture(path)
    marks = mark_times_s(trace.marker)
    # Marks are found to within one sample of where the firmware pulsed.
    assert np.max(np.abs(marks - np.array(waveform.mark_times_s))) <= 1.0 / SAMPLE_RATE_HZ
    result = measure_energy(trace, waveform.inferences_per_window, "capture",
                            expected_window_s=waveform.window_s)
    check_result(result, waveform, "capture")
    assert result.result_columns() == {"energy_source": "capture",
                                       "energy_uj": result.energy_per_inference_uj}


def test_capture_without_voltage_uses_the_given_supply_voltage(tmp_path):
    waveform = make_waveform((5, 5))
    path = tmp_path / "current_only.jls"
    write_jls(path, waveform, with_voltage=False)
    with pytest.raises(MeasurementError, match="no voltage or power signal"):
        read_jls_capture(path)
    result = measure_energy(read_jls_capture(path, supply_voltage_v=ACTIVE_V), [5, 5], "capture")
    assert_close(result.energy_per_inference_uj, waveform.exact_energy_per_inference_j * 1e6, 1e-3)


def _without_mark(waveform: Waveform, index: int) -> Waveform:
    gpi = waveform.gpi.copy()
    start = round((waveform.mark_times_s[index] - FIRST_SAMPLE_ID / SAMPLE_RATE_HZ) * SAMPLE_RATE_HZ)
    gpi[start - 2:start + 10] = 1
    return replace(waveform, gpi=gpi)


def _with_glitch(waveform: Waveform, at_s: float) -> Waveform:
    gpi = waveform.gpi.copy()
    start = round((at_s - FIRST_SAMPLE_ID / SAMPLE_RATE_HZ) * SAMPLE_RATE_HZ)
    gpi[start:start + 3] = 0
    return replace(waveform, gpi=gpi)


def test_capture_with_a_missing_mark_is_refused(tmp_path, waveform):
    path = tmp_path / "missing.jls"
    write_jls(path, _without_mark(waveform, 5))
    with pytest.raises(MeasurementError, match=r"found 7 timestamp marks .* 4 window\(s\) need 8"):
        measure_energy(read_jls_capture(path), waveform.inferences_per_window, "capture")


def test_capture_with_an_extra_mark_is_refused(tmp_path, waveform):
    path = tmp_path / "extra.jls"
    inside_window_1 = waveform.mark_times_s[2] + 3 * INFERENCE_S
    write_jls(path, _with_glitch(waveform, inside_window_1))
    with pytest.raises(MeasurementError, match=r"found 9 timestamp marks"):
        measure_energy(read_jls_capture(path), waveform.inferences_per_window, "capture")


def test_a_missing_and_an_extra_mark_are_caught_by_the_device_window_lengths(tmp_path, waveform):
    # The count is right (8) but the pairs are wrong; only the device's window lengths show it.
    faulty = _with_glitch(_without_mark(waveform, 3), waveform.mark_times_s[2] + 2 * INFERENCE_S)
    path = tmp_path / "shifted.jls"
    write_jls(path, faulty)
    trace = read_jls_capture(path)
    with pytest.raises(MeasurementError, match="window 1 lasts .* by the device timer"):
        measure_energy(trace, waveform.inferences_per_window, "capture",
                       expected_window_s=waveform.window_s)


def test_without_a_device_timer_the_marks_are_checked_against_the_host_clock(tmp_path, waveform):
    """A plain MLPerf Tiny DUT in energy mode reports no device time: each window's marks must
    lie within what the host clock saw of its 'infer N 1' command."""
    counts, serial_s = waveform.inferences_per_window, 5e-3
    # A host that reads m-ready on time (late_read_s=0): these windows last ~20 ms, under the
    # default allowance for late reads, which would leave the lower bound nothing to check.
    hosts = [HostWindow(command_s=(n + 1) * INFERENCE_S + serial_s + 1e-3, warmup=1, overhead_s=serial_s,
                        late_read_s=0.0)
             for n in counts]
    path = tmp_path / "run.jls"
    write_jls(path, waveform)
    result = measure_energy(read_jls_capture(path), counts, "capture", host_windows=hosts)
    check_result(result, waveform, "capture")
    assert result.window_s == pytest.approx(waveform.window_s, abs=1.0 / SAMPLE_RATE_HZ)
    assert result.marks_sample_rate_hz == SAMPLE_RATE_HZ
    # The host saw command 2 end before its second mark: the marks are not that window's.
    ended_early = [*hosts[:2], replace(hosts[2], command_s=waveform.window_s[2] - 2e-3), *hosts[3:]]
    with pytest.raises(MeasurementError, match="window 2 lasts .* longer than the host saw its "
                                               r"'infer 9 1' command take"):
        measure_energy(read_jls_capture(path), counts, "capture", host_windows=ended_early)
    # A lost mark and a glitch 1 inference into window 1: the count is right, the pair covers
    # 1 of its 8 inferences.
    faulty = _with_glitch(_without_mark(waveform, 3), waveform.mark_times_s[2] + 1 * INFERENCE_S)
    write_jls(path, faulty)
    with pytest.raises(MeasurementError, match=r"window 1 lasts .* under .* \(25% of what the host "
                                               "clock gives its 8 timed inferences"):
        measure_energy(read_jls_capture(path), counts, "capture", host_windows=hosts)


def test_capture_that_starts_mid_run_is_refused(tmp_path, waveform):
    cut = round((waveform.mark_times_s[1] - FIRST_SAMPLE_ID / SAMPLE_RATE_HZ) * SAMPLE_RATE_HZ) + 100
    late = replace(waveform, current_a=waveform.current_a[cut:], voltage_v=waveform.voltage_v[cut:],
                   gpi=waveform.gpi[cut:])
    path = tmp_path / "late.jls"
    write_jls(path, late)
    with pytest.raises(MeasurementError, match="found 6 timestamp marks"):
        measure_energy(read_jls_capture(path), waveform.inferences_per_window, "capture")


def test_capture_errors_name_the_problem(tmp_path, waveform):
    with pytest.raises(MeasurementError, match="does not exist"):
        read_jls_capture(tmp_path / "nope.jls")
    garbage = tmp_path / "garbage.jls"
    garbage.write_bytes(b"not a jls file" * 100)
    with pytest.raises(MeasurementError, match="not a readable JLS v2 file"):
        read_jls_capture(garbage)
    path = tmp_path / "run.jls"
    write_jls(path, make_waveform((2,)))
    with pytest.raises(MeasurementError, match=r"no timestamp signal 'gpi\[1\]'.*current"):
        read_jls_capture(path, marker_signal="gpi[1]")
    with pytest.raises(MeasurementError, match="no Joulescope with serial number '999'.*000415"):
        read_jls_capture(path, serial_number="999")


def test_measure_energy_refuses_model_source_and_bad_window_counts(tmp_path):
    waveform = make_waveform((3,))
    path = tmp_path / "run.jls"
    write_jls(path, waveform)
    trace = read_jls_capture(path)
    with pytest.raises(MeasurementError, match="use modeled_energy"):
        measure_energy(trace, [3], "model")
    with pytest.raises(MeasurementError, match="inferences_per_window"):
        measure_energy(trace, [0], "capture")


# --- live probe, replayed through a test double of the driver -------------------------------

class ReplayDriver:
    """Stands in for ``pyjoulescope_driver.Driver``: the methods JoulescopeProbe calls, with
    the same signatures and the same stream message layout (see the driver's binding:
    sample_id at the base rate, decimate_factor, float32 data, u1 data packed LSB first).
    Once current, voltage and gpi/0 are enabled it replays a waveform from its own thread."""

    BASE_RATE_HZ = 2_000_000  # a JS220 counts samples at 2 MHz and decimates to 1 MHz
    DECIMATE = 2

    def __init__(self, waveform: Waveform, block_samples: int = 12_345, drop_block: int | None = None):
        self.waveform = waveform
        self.block_samples = block_samples
        self.drop_block = drop_block
        self.paths = ["u/js110/001234", "u/js220/000415"]
        self.opened: dict[str, str] = {}
        self.published: list[tuple[str, object]] = []
        self.subscribers: dict[str, list] = {}
        self.enabled: set[str] = set()
        self.replay_done = threading.Event()
        self.finalized = False
        self._thread = None

    def device_paths(self, timeout=None):
        return list(self.paths)

    def open(self, device_prefix, mode=None, timeout=None):
        assert device_prefix in self.paths, device_prefix
        self.opened[device_prefix] = mode

    def close(self, device_prefix, timeout=None):
        self.opened.pop(device_prefix)

    def finalize(self, timeout=None):
        self.finalized = True

    def subscribe(self, topic, flags, fn, timeout=None):
        assert flags == ["pub"]
        self.subscribers.setdefault(topic, []).append(fn)

    def unsubscribe(self, topic, fn, timeout=None):
        self.subscribers[topic].remove(fn)

    def publish(self, topic, value, timeout=None):
        device = next((p for p in self.opened if topic.startswith(p + "/")), None)
        assert device is not None, f"{topic}: device not open"
        self.published.append((topic, value))
        setting = topic[len(device) + 1:]
        if setting.startswith("s/") and setting.endswith("/ctrl") and "/range/" not in setting:
            stream = setting[:-len("/ctrl")]
            (self.enabled.add if value else self.enabled.discard)(stream)
            if {"s/i", "s/v", "s/gpi/0"} <= self.enabled and self._thread is None:
                self._thread = threading.Thread(target=self._replay, args=(device,), daemon=True)
                self._thread.start()

    def _message(self, index: int, data: np.ndarray) -> dict:
        return {"sample_id": index * self.DECIMATE, "utc": 0, "field_id": 0, "index": 0,
                "sample_rate": self.BASE_RATE_HZ, "decimate_factor": self.DECIMATE,
                "time_map": {"offset_time": 0, "offset_counter": 0,
                             "counter_rate": float(self.BASE_RATE_HZ)},
                "data": data}

    def _replay(self, device: str) -> None:
        wave = self.waveform
        streams = {f"{device}/s/i/!data": wave.current_a, f"{device}/s/v/!data": wave.voltage_v,
                   f"{device}/s/gpi/0/!data": wave.gpi}
        for block, start in enumerate(range(0, len(wave.current_a), self.block_samples)):
            if block == self.drop_block:
                continue  # USB overflow: the host never sees this block
            for topic, samples in streams.items():
                chunk = samples[start:start + self.block_samples]
                if samples is wave.gpi:
                    chunk = np.packbits(chunk, bitorder="little")
                for fn in list(self.subscribers.get(topic, [])):
                    fn(topic, self._message(FIRST_SAMPLE_ID + start, chunk))
        self.replay_done.set()


def _probe_trace(driver: ReplayDriver, serial: str = "000415"):
    with JoulescopeProbe(serial_number=serial, driver_factory=lambda: driver) as probe:
        probe.start()
        assert driver.replay_done.wait(10), "replay did not finish"
        trace = probe.stop(settle_s=0)
    assert driver.finalized and not driver.opened
    return trace


def test_probe_replay_gives_the_same_energy_as_the_capture(tmp_path, waveform):
    driver = ReplayDriver(waveform)
    trace = _probe_trace(driver)
    assert trace.origin == "Joulescope 000415"
    assert driver.published[0] == ("u/js220/000415/s/i/range/mode", "auto")
    result = measure_energy(trace, waveform.inferences_per_window, "probe",
                            expected_window_s=waveform.window_s)
    check_result(result, waveform, "probe")
    # Streams are switched off again when the probe stops.
    assert ("u/js220/000415/s/i/ctrl", 0) in driver.published and not driver.enabled

    path = tmp_path / "same.jls"
    write_jls(path, waveform)
    from_capture = measure_energy(read_jls_capture(path), waveform.inferences_per_window, "capture")
    assert result.energy_per_inference_uj == pytest.approx(from_capture.energy_per_inference_uj, rel=1e-9)


def test_probe_with_dropped_samples_is_refused(waveform):
    with pytest.raises(MeasurementError, match=r"current stream lost 12345 samples"):
        _probe_trace(ReplayDriver(waveform, drop_block=3))


def test_probe_replay_with_missing_mark_is_refused(waveform):
    trace = _probe_trace(ReplayDriver(_without_mark(waveform, 0)))
    with pytest.raises(MeasurementError, match="Joulescope 000415: found 7 timestamp marks"):
        measure_energy(trace, waveform.inferences_per_window, "probe")


def test_probe_that_is_not_connected_is_named(waveform):
    driver = ReplayDriver(waveform)
    with pytest.raises(MeasurementError, match=r"Joulescope 999 is not connected .*u/js220/000415"):
        JoulescopeProbe(serial_number="999", driver_factory=lambda: driver).open()
    assert driver.finalized


# --- model ----------------------------------------------------------------------------------

def test_modeled_energy_is_power_profile_times_latency():
    result = modeled_energy(latency_s=0.182, active_current_ma=10.0, supply_voltage_v=1.8,
                            idle_current_ma=1.0)
    assert result.energy_source == "model" and result.mode == "emulated"
    assert result.energy_per_inference_uj == pytest.approx(10e-3 * 1.8 * 0.182 * 1e6)
    assert result.average_power_mw == pytest.approx(18.0)
    assert result.idle_energy_per_inference_uj == pytest.approx(1e-3 * 1.8 * 0.182 * 1e6)
    assert result.result_columns()["energy_source"] == "model"


def test_modeled_energy_refuses_a_bad_profile_and_a_host_run():
    with pytest.raises(MeasurementError, match="positive active_current_ma"):
        modeled_energy(latency_s=0.1, active_current_ma=0.0, supply_voltage_v=3.3)
    with pytest.raises(MeasurementError, match="cannot describe a run in mode 'host'"):
        modeled_energy(latency_s=0.1, active_current_ma=5.0, supply_voltage_v=3.3, mode="host")


# --- the analysis on its own, over many random runs -----------------------------------------

@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(1, 6), min_size=1, max_size=5),
       inference_samples=st.floats(20.5, 300.0), active_w=st.floats(1e-3, 0.5),
       idle_w=st.floats(1e-5, 1e-3), gap_samples=st.integers(2_500, 5_000),
       rate=st.sampled_from([100_000.0, 250_000.0]), start_s=st.floats(0.0, 100.0))
def test_energy_per_inference_is_exact_for_any_run(counts, inference_samples, active_w, idle_w,
                                                    gap_samples, rate, start_s):
    """Constant active power inside windows, idle outside: the energy per inference is
    active power x inference time, up to the one-sample quantization of the marks."""
    inference_s = inference_samples / rate
    marks, t = [], start_s + gap_samples / rate
    for count in counts:
        marks += [t, t + count * inference_s]
        t += count * inference_s + gap_samples / rate
    samples = round((t - start_s) * rate)
    sample_start = start_s + np.arange(samples) / rate
    power = np.full(samples, idle_w)
    gpi = np.ones(samples, dtype=np.uint8)
    for begin, end in zip(marks[0::2], marks[1::2]):
        # Exact average power over each sample interval that overlaps the window.
        overlap = np.clip(np.minimum(sample_start + 1 / rate, end) - np.maximum(sample_start, begin), 0, None)
        power += overlap * rate * (active_w - idle_w)
    for mark in marks:
        gpi[np.searchsorted(sample_start, mark):np.searchsorted(sample_start, mark) + 2] = 0
    trace = power_trace_from_signals(marker=SampledSignal(rate, start_s, gpi), origin="synthetic",
                                     power_w=SampledSignal(rate, start_s, power))
    result = measure_energy(trace, counts, "capture")
    # Each mark lands on the next sample edge: at most one sample period late at each end.
    tolerance = 2 * active_w / rate / min(counts)
    assert abs(result.energy_per_inference_uj * 1e-6 - active_w * inference_s) <= tolerance
    assert result.idle_power_mw == pytest.approx(idle_w * 1e3, rel=1e-9)


def test_real_driver_reports_a_probe_that_is_not_connected():
    """The real pyjoulescope_driver is used by default; a serial number that no Joulescope has
    gives a clear error, and the driver is released."""
    with pytest.raises(MeasurementError, match=r"Joulescope no-such-probe is not connected \(connected"):
        JoulescopeProbe(serial_number="no-such-probe").open()
