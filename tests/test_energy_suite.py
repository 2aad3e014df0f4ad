"""Energy through the whole benchmark procedure (hilbench.procedure.benchmark_dut).

The board is a "hardware" board from a lab file: energy-mode host firmware behind a pty,
pre-flashed (flasher kind none), with a Joulescope in its power_probe entry. The host
firmware has no GPIO; with HB_HOST_TIMESTAMP_PIN it appends the time of each timestamp pulse
to a file, which stands in for the wire from the DUT's pin to the probe's GPI. The probe
itself is a test double of the pyjoulescope_driver surface that JoulescopeProbe uses; it
turns those pulses into the current, voltage and GPI samples a Joulescope would stream: the
board draws ACTIVE_A while it runs a window (between a window's two pulses) and IDLE_A
otherwise. A JLS file written with pyjls from the same samples is the capture.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyjls
import pytest

from hilbench.bench import compiled_model_dir, open_dut
from hilbench.boards import resolve_boards
from hilbench.build import build_firmware
from hilbench.compile import compile_model
from hilbench.deploy.host import start_host_firmware
from hilbench.errors import MeasurementError
from hilbench.procedure import (ENERGY_MODE_DEFINES, BenchmarkOptions, TimingPlan,
                                benchmark_dut, energy_plan)
from hilbench.measure.energy_capture import unix_to_jls_time

SERIAL = "000415"
BASE_RATE_HZ = 2_000_000      # a JS220 counts samples at 2 MHz
RATE_HZ = 1_000_000           # output rate: marks within 1 us on windows of a few ms
IDLE_A, ACTIVE_A, SUPPLY_V = 1.5e-3, 9.0e-3, 3.3
PULSE_S = 5e-6
# Short windows that keep every tick (N <= the firmware's 128), still enforced like hardware.
PLAN = TimingPlan(windows=3, warmup=2, min_window_s=0.004, max_inferences=None,
                  enforce_min_window=True, why="test: short hardware windows")


def pin_times_s(pin: Path) -> np.ndarray:
    """The pulses the firmware wrote so far, in CLOCK_MONOTONIC seconds."""
    text = pin.read_text() if pin.exists() else ""
    return np.array([int(line) for line in text.split()], dtype=np.int64) / 1e9


def board_samples(pin: Path, start_s: float, end_s: float, drop_mark: int | None = None,
                  rate_hz: int = RATE_HZ, delay_mark: tuple[int, float] | None = None):
    """Samples a probe would record from start_s to end_s (CLOCK_MONOTONIC) at rate_hz: the
    index of the first sample, current (exact average over each sample), voltage and GPI.
    drop_mark: the index of a pulse the GPI misses; delay_mark: (index, seconds) a pulse that
    the GPI sees that much later (a glitch in place of a lost pulse)."""
    marks = pin_times_s(pin)
    marks = marks[(marks >= start_s) & (marks < end_s)]
    if delay_mark is not None:
        marks[delay_mark[0]] += delay_mark[1]
    first = int(np.ceil(start_s * rate_hz))
    count = int(end_s * rate_hz) - first
    edges = (first + np.arange(count + 1)) / rate_hz
    # Piecewise-constant current: ACTIVE_A within each pair of marks, paired from the last
    # one (a lone 'timestamp' pulse can come before the windows).
    cumulative = (edges - edges[0]) * IDLE_A
    paired = marks[len(marks) % 2:]
    for begin, end in zip(paired[0::2], paired[1::2]):
        cumulative += np.clip(edges - begin, 0, end - begin) * (ACTIVE_A - IDLE_A)
    current = (np.diff(cumulative) * rate_hz).astype(np.float32)
    gpi = np.ones(count, dtype=np.uint8)
    for index, mark in enumerate(marks):
        if index != drop_mark:
            gpi[(edges[:-1] >= mark) & (edges[:-1] < mark + PULSE_S)] = 0
    return first, current, np.full(count, SUPPLY_V, np.float32), gpi, marks


class SimulatedJoulescope:
    """The pyjoulescope_driver.Driver methods JoulescopeProbe calls. While streams are on it
    records the time span; when they are switched off it delivers that span's samples as
    driver data messages (sample_id at the base rate, decimate_factor, u1 GPI packed)."""

    def __init__(self, pin: Path, drop_mark: int | None = None, block: int = 50_000,
                 delay_mark: tuple[int, float] | None = None):
        self.pin, self.drop_mark, self.block, self.delay_mark = pin, drop_mark, block, delay_mark
        self.paths = ["u/js110/001234", f"u/js220/{SERIAL}"]
        self.opened: dict[str, str] = {}
        self.subscribers: dict[str, list] = {}
        self.enabled: set[str] = set()
        self.started_s: float | None = None
        self.rate_hz = RATE_HZ
        self.marks: np.ndarray | None = None
        self.finalized = False

    def device_paths(self, timeout=None):
        return list(self.paths)

    def open(self, device_prefix, mode=None, timeout=None):
        assert device_prefix in self.paths
        self.opened[device_prefix] = mode

    def close(self, device_prefix, timeout=None):
        self.opened.pop(device_prefix)

    def finalize(self, timeout=None):
        self.finalized = True

    def subscribe(self, topic, flags, fn, timeout=None):
        self.subscribers.setdefault(topic, []).append(fn)

    def unsubscribe(self, topic, fn, timeout=None):
        self.subscribers[topic].remove(fn)

    def publish(self, topic, value, timeout=None):
        device = next(p for p in self.opened if topic.startswith(p + "/"))
        setting = topic[len(device) + 1:]
        if setting == "h/fs":   # the output rate: the 2 MHz samples are decimated to it
            assert BASE_RATE_HZ % value == 0
            self.rate_hz = value
        if not (setting.startswith("s/") and setting.endswith("/ctrl")) or "/range/" in setting:
            return
        stream = setting[:-len("/ctrl")]
        if value:
            self.enabled.add(stream)
            if {"s/i", "s/v", "s/gpi/0"} <= self.enabled and self.started_s is None:
                self.started_s = time.monotonic()
        elif stream in self.enabled:
            if self.marks is None:   # the first stream switched off: deliver the recording
                self._deliver(device, time.monotonic())
            self.enabled.discard(stream)

    def _deliver(self, device: str, end_s: float) -> None:
        first, current, voltage, gpi, self.marks = board_samples(self.pin, self.started_s, end_s,
                                                                 self.drop_mark, self.rate_hz,
                                                                 self.delay_mark)
        decimate = BASE_RATE_HZ // self.rate_hz
        streams = {"s/i": current, "s/v": voltage, "s/gpi/0": gpi}
        for start in range(0, len(current), self.block):
            for stream, samples in streams.items():
                chunk = samples[start:start + self.block]
                if stream == "s/gpi/0":
                    chunk = np.packbits(chunk, bitorder="little")
                topic = f"{device}/{stream}/!data"
                message = {"sample_id": (first + start) * decimate, "sample_rate": BASE_RATE_HZ,
                           "decimate_factor": decimate, "data": chunk}
                for fn in list(self.subscribers.get(topic, [])):
                    fn(topic, message)


def expected_energy_uj(marks: np.ndarray, inferences: int) -> float:
    """The exact energy per inference of the simulated board: the median window's."""
    windows = marks[1::2] - marks[0::2]
    return float(np.median(windows)) * ACTIVE_A * SUPPLY_V / inferences * 1e6


@pytest.fixture(scope="module")
def energy_firmware(unlabelled_model):
    compiled = compile_model(unlabelled_model, compiled_model_dir(unlabelled_model, "portable"))
    return build_firmware("host", compiled, extra_defines=ENERGY_MODE_DEFINES)


def preflashed_board(tmp_path: Path, firmware, pin: Path, monkeypatch, probe: str):
    """A hardware board on a pty running ``firmware``, declared in a lab file."""
    monkeypatch.setenv("HB_HOST_TIMESTAMP_PIN", str(pin))
    endpoint = start_host_firmware(firmware)
    lab = tmp_path / "lab.yaml"
    lab.write_text("boards:\n  bench-nano:\n    extends: nano33\n"
                   f"    connection: {{port: '{endpoint.url}'}}\n    flasher: {{kind: none}}\n"
                   f"    power_probe: {{{probe}}}\n")
    [board] = resolve_boards(["bench-nano"], lab=lab)
    assert board.mode == "hardware"
    return endpoint, board


def test_probe_energy_through_the_benchmark(tmp_path, energy_firmware, monkeypatch,
        unlabelled_model):
    pin = tmp_path / "pin"
    endpoint, board = preflashed_board(tmp_path, energy_firmware, pin, monkeypatch,
                                       f"kind: joulescope, serial: '{SERIAL}'")
    driver = SimulatedJoulescope(pin)
    with endpoint, open_dut(board, unlabelled_model) as dut:
        plan = energy_plan(board)
        assert (plan.source, plan.probe_serial) == ("probe", SERIAL)
        result = benchmark_dut(dut, BenchmarkOptions(max_vectors=3, timing=PLAN, idle_s=0.05,
                                                     probe_sample_rate_hz=RATE_HZ,
                                                     probe_driver_factory=lambda: driver))
    row, energy = result.row, result.figures["energy"]
    assert row["mode"] == "hardware" and row["latency_source"] == "device-timer"
    assert row["energy_source"] == "probe" and energy["why"] == f"Joulescope {SERIAL}"
    assert driver.finalized and not driver.opened          # the probe was closed again
    assert driver.rate_hz == RATE_HZ
    n = result.figures["latency"]["inferences_per_window"]
    assert len(driver.marks) == 2 * PLAN.windows           # only the energy windows streamed
    exact = expected_energy_uj(driver.marks, n)
    assert row["energy_uj"] == pytest.approx(exact, rel=1e-3)
    assert energy["average_power_mw"] == pytest.approx(ACTIVE_A * SUPPLY_V * 1e3, rel=1e-3)
    assert energy["idle_power_mw"] == pytest.approx(IDLE_A * SUPPLY_V * 1e3, rel=1e-3)
    assert energy["idle_energy_per_inference_uj"] == pytest.approx(
        IDLE_A / ACTIVE_A * exact, rel=1e-2)
    # The device timer and the marks agree on the windows; latency carries its CI.
    latency = result.figures["latency"]
    assert latency["latency_ms_p50_ci95_low"] <= latency["latency_ms_p50"] <= \
        latency["latency_ms_p50_ci95_high"]
    assert latency["host_round_trip_ms"] > 0 and min(latency["window_s"]) >= PLAN.min_window_s
    assert result.bitexact_rate == 1.0


def test_probe_that_misses_a_mark_gives_an_error_not_a_number(tmp_path, energy_firmware, monkeypatch,
        unlabelled_model):
    pin = tmp_path / "pin"
    endpoint, board = preflashed_board(tmp_path, energy_firmware, pin, monkeypatch,
                                       f"kind: joulescope, serial: '{SERIAL}'")
    driver = SimulatedJoulescope(pin, drop_mark=3)
    with endpoint, open_dut(board, unlabelled_model) as dut:
        with pytest.raises(MeasurementError, match=f"Joulescope {SERIAL}: found 5 timestamp marks"):
            benchmark_dut(dut, BenchmarkOptions(max_vectors=2, timing=PLAN, idle_s=0.05,
                                                probe_driver_factory=lambda: driver))


class CaptureRecorder:
    """The Joulescope software recording the whole benchmark into a JLS file: it records
    from start() and writes the file when told to stop (after the energy windows)."""

    def __init__(self, pin: Path, path: Path):
        self.pin, self.path = pin, path
        self.started_s = time.monotonic()
        self.marks = None

    def stop(self) -> None:
        first, current, voltage, gpi, self.marks = board_samples(self.pin, self.started_s,
                                                                 time.monotonic())
        unix_offset = time.time() - time.monotonic()
        with pyjls.Writer(str(self.path)) as writer:
            writer.source_def(source_id=1, name=f"JS220-{SERIAL}", vendor="Jetperch", model="JS220",
                              version="1.0.0", serial_number=SERIAL)
            signals = [("current", "A", pyjls.DataType.F32, current),
                       ("voltage", "V", pyjls.DataType.F32, voltage),
                       ("gpi[0]", "", pyjls.DataType.U1, gpi)]
            for signal_id, (name, units, data_type, _) in enumerate(signals, 1):
                writer.signal_def(signal_id=signal_id, source_id=1, signal_type=pyjls.SignalType.FSR,
                                  data_type=data_type, sample_rate=RATE_HZ, name=name, units=units)
            for signal_id, (_, _, data_type, data) in enumerate(signals, 1):
                for start in range(0, len(data), 80_000):   # a multiple of 8: whole GPI bytes
                    chunk = data[start:start + 80_000]
                    if data_type == pyjls.DataType.U1:
                        chunk = np.packbits(chunk, bitorder="little")
                    writer.fsr(signal_id, first + start, chunk)
                # UTC time stamps along the recording, as the Joulescope software writes them
                for sample in range(first, first + len(data), RATE_HZ // 10):
                    writer.utc(signal_id, sample, unix_to_jls_time(sample / RATE_HZ + unix_offset))


def test_capture_energy_through_the_benchmark(tmp_path, energy_firmware, monkeypatch,
        unlabelled_model):
    pin = tmp_path / "pin"
    capture = tmp_path / "bench-nano.jls"
    endpoint, board = preflashed_board(tmp_path, energy_firmware, pin, monkeypatch,
                                       f"kind: joulescope, serial: '{SERIAL}', capture: '{capture}'")
    with endpoint, open_dut(board, unlabelled_model) as dut:
        recorder = CaptureRecorder(pin, capture)   # recording spans the whole benchmark
        result = benchmark_dut(dut, BenchmarkOptions(max_vectors=2, timing=PLAN, idle_s=0.05,
                                                     capture_timeout_s=10,
                                                     after_energy_windows=recorder.stop))
    assert result.row["energy_source"] == "capture"
    # The file holds the pulses of every command; only the energy windows' were analysed.
    assert len(recorder.marks) > 2 * PLAN.windows
    energy_marks = recorder.marks[-2 * PLAN.windows:]
    n = result.figures["latency"]["inferences_per_window"]
    assert result.row["energy_uj"] == pytest.approx(expected_energy_uj(energy_marks, n), rel=1e-3)
    assert result.figures["energy"]["idle_power_mw"] == pytest.approx(IDLE_A * SUPPLY_V * 1e3, rel=1e-3)


def test_capture_that_was_not_recorded_is_named(tmp_path, energy_firmware, monkeypatch,
        unlabelled_model):
    pin = tmp_path / "pin"
    endpoint, board = preflashed_board(tmp_path, energy_firmware, pin, monkeypatch,
                                       f"kind: joulescope, serial: '{SERIAL}'")
    with endpoint, open_dut(board, unlabelled_model) as dut:
        with pytest.raises(MeasurementError, match=r"energy capture .*nothing.jls does not exist"):
            benchmark_dut(dut, BenchmarkOptions(max_vectors=1, timing=PLAN, idle_s=0.01,
                                                capture_timeout_s=0.3,
                                                energy_capture=tmp_path / "nothing.jls"))


def test_performance_firmware_on_a_probed_board_is_refused(tmp_path, monkeypatch, unlabelled_model):
    performance = build_firmware("host", compile_model(unlabelled_model,
                                                       compiled_model_dir(unlabelled_model, "portable")))
    endpoint, board = preflashed_board(tmp_path, performance, tmp_path / "pin", monkeypatch,
                                       f"kind: joulescope, serial: '{SERIAL}'")
    with endpoint, open_dut(board, unlabelled_model) as dut:
        with pytest.raises(MeasurementError, match="is in performance mode .*HB_DUT_ENERGY_MODE=1"):
            benchmark_dut(dut, BenchmarkOptions(max_vectors=1, timing=PLAN, idle_s=0.01,
                                                probe_driver_factory=lambda: None))


def test_energy_mode_on_an_emulated_twin_is_a_no_op_and_energy_is_modeled():
    """The twin's timestamp pin does nothing: energy-mode firmware prints no m-lap-us, still
    times by ticks, and the row says its energy is modeled."""
    [board] = resolve_boards(["nano33"], emulate=True)
    with open_dut(board, "gesture", extra_defines=ENERGY_MODE_DEFINES) as dut:
        assert "-DHB_DUT_ENERGY_MODE=1" in dut.firmware.compile_command
        assert dut.session.timestamp() is None
        result = benchmark_dut(dut, BenchmarkOptions(max_vectors=2))
    assert result.row["mode"] == "emulated" and result.row["latency_source"] == "icount"
    assert result.row["energy_source"] == "model"
    assert "emulated twin has no current to measure" in result.figures["energy"]["why"]
    profile = board.board.power_profile
    assert result.row["energy_uj"] == pytest.approx(
        profile.active_ma * 1e-3 * profile.voltage_v * result.row["latency_ms_p50"] * 1e3)
