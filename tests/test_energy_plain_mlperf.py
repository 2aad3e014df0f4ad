"""Energy of a plain MLPerf Tiny DUT in energy mode, measured as MLPerf Tiny's energy mode
measures it: the timestamp pin and the probe or a capture.

The DUT is hilbench's host firmware built with the plain MLPerf option and energy mode: no
hilbench extensions, no per-inference ticks, and 'timestamp' pulses the pin (written to the
HB_HOST_TIMESTAMP_PIN file) instead of printing m-lap-us. It runs as a pre-flashed
"hardware" board on a pty, declared in a lab file. Its pulses become Joulescope samples
through the test double of the driver in test_energy_suite (probe) and a JLS file written
with pyjls (capture), so the energy per inference is exactly known.
"""

from __future__ import annotations

import json

import numpy as np
import pyjoulescope_driver
import pytest
# Loaded before the in-process pytester run: it unloads modules imported inside it, and an
# extension module cannot be loaded twice.
from tflite_micro.python.tflite_micro import runtime  # noqa: F401

from hilbench import procedure
from hilbench.bench import compiled_model_dir, open_dut
from hilbench.cli import main
from hilbench.boards import resolve_boards
from hilbench.build import build_firmware
from hilbench.compile import compile_model
from hilbench.deploy.host import start_host_firmware
from hilbench.paths import zoo_root
from hilbench.procedure import (ENERGY_MODE_DEFINES, MARKS_TIMER, BenchmarkOptions, TimingPlan,
                                benchmark_dut, format_details)
from hilbench.record import load_run, validate_row
from hilbench.twin_serve import PLAIN_MLPERF_DEFINES
from tests.support.inner_pytest import FAST_INNER_PYTEST
from test_energy_suite import (RATE_HZ, CaptureRecorder, SimulatedJoulescope,
                               expected_energy_uj)

pytest_plugins = ["pytester"]

# MLPerf Tiny's hardware windows (5 x at least 10 s) would take a minute per board: short
# windows. The host firmware's speed follows the load of a shared computer, unlike a board's,
# so the minimum is enforced only where a test forces the rerun it leads to (RERUN_PLAN).
PLAN = TimingPlan(windows=3, warmup=2, min_window_s=0.05, max_inferences=None,
                  enforce_min_window=False, why="test: short hardware windows")
# At most 50 inferences (about 3 ms on this host) first: far under the enforced minimum.
RERUN_PLAN = TimingPlan(windows=3, warmup=2, min_window_s=0.05, max_inferences=50,
                        enforce_min_window=True, why="test: windows that must be run again")
EMPTY_LATENCY = {"latency_source": "", "latency_ms_p50": None, "latency_ms_p90": None,
                 "cycles_per_inference": None}


@pytest.fixture(scope="module")
def plain_energy_firmware():
    """The zoo's anomaly detector (labelled vectors: accuracy too) in a plain, energy-mode build."""
    model = zoo_root() / "ad" / "int8.tflite"
    compiled = compile_model(model, compiled_model_dir(model, "portable"))
    return build_firmware("host", compiled, extra_defines=PLAIN_MLPERF_DEFINES + ENERGY_MODE_DEFINES)


def start_dut(firmware, pin, monkeypatch):
    monkeypatch.setenv("HB_HOST_TIMESTAMP_PIN", str(pin))
    return start_host_firmware(firmware)


def write_lab(path, boards: dict[str, tuple[str, str | None]]):
    """A lab file of pre-flashed boards: name -> (serial port, power_probe or None)."""
    lines = ["boards:"]
    for name, (url, probe) in boards.items():
        # The plain firmware names its model 'int8' (the file stem): the lab says which it is.
        lines += [f"  {name}:", "    extends: nano33", f"    connection: {{port: '{url}'}}",
                  "    flasher: {kind: none}", "    model: ad"]
        if probe:
            lines.append(f"    power_probe: {{{probe}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def check_plain_energy_result(row: dict, figures: dict, source: str, marks: np.ndarray,
                              plan: TimingPlan = PLAN) -> None:
    """The row and figures of a plain energy-mode DUT, against the pulses it really made."""
    assert {k: row[k] for k in EMPTY_LATENCY} == EMPTY_LATENCY
    assert (row["mode"], row["energy_source"]) == ("hardware", source)
    assert row["runtime"].startswith("mlperf-dut:dut-")
    assert figures["latency_source"] == "" and figures["dut_protocol"]["firmware"] == "plain-mlperf"
    latency = figures["latency"]
    n = latency["inferences_per_window"]
    assert row["energy_uj"] == pytest.approx(expected_energy_uj(marks, n), rel=1e-3)
    # The time per inference between the marks, with its timer and that timer's resolution.
    assert (latency["timing_source"], latency["timer"], latency["timer_rate_hz"]) == (
        "timestamp-marks", MARKS_TIMER, RATE_HZ)
    windows_s = marks[1::2] - marks[0::2]
    assert latency["window_s"] == pytest.approx(windows_s, abs=2 / RATE_HZ)
    assert latency["time_per_inference_between_marks_ms"] == pytest.approx(
        np.median(windows_s) / n * 1e3, abs=2e3 / RATE_HZ / n)
    assert latency["windows"] == plan.windows and latency["warmup_per_window"] == plan.warmup
    assert figures["timing_plan"]["first_inference_clock"].startswith("host-clock")
    # Accuracy and bit-exactness as for any plain DUT: printed outputs, clobber check first.
    assert figures["outputs"] == "printed"
    assert isinstance(figures["dut_protocol"]["clobbers_input"], bool)
    assert 0 <= row["accuracy"] <= 1
    assert row["bitexact_rate"] == 1.0   # the ad model's printed outputs recover exactly
    line = format_details(figures)
    assert "latency empty (energy-mode firmware, no device time)" in line
    assert f"ms per inference between the timestamp marks (probe sample clock at {RATE_HZ:.4g} Hz" in line


def test_capture_times_and_measures_a_plain_energy_mode_dut(tmp_path, plain_energy_firmware,
                                                            monkeypatch):
    pin, capture = tmp_path / "pin", tmp_path / "plain.jls"
    # A host DUT's speed follows the machine's load, unlike a board's: the rerun's N gets
    # more headroom than on hardware (1.2), so a loaded first attempt cannot size it short.
    monkeypatch.setattr(procedure, "WINDOW_HEADROOM", 3.0)
    endpoint = start_dut(plain_energy_firmware, pin, monkeypatch)
    lab = write_lab(tmp_path / "lab.yaml", {"plain": (endpoint.url, f"kind: joulescope, capture: '{capture}'")})
    [board] = resolve_boards(["plain"], lab=lab)
    with endpoint, open_dut(board, "ad") as dut:
        assert dut.plain_mlperf and dut.board.mode == "hardware"
        recorder = CaptureRecorder(pin, capture)   # records the whole benchmark
        result = benchmark_dut(dut, BenchmarkOptions(max_vectors=2, timing=RERUN_PLAN, idle_s=0.05,
                                                     capture_timeout_s=10,
                                                     after_energy_windows=recorder.stop))
    validate_row(result.row)
    # The file holds the pulses of every command; the energy windows' are the last ones.
    check_plain_energy_result(result.row, result.figures, "capture",
                              recorder.marks[-2 * RERUN_PLAN.windows:], RERUN_PLAN)
    # The capped first windows fell under the minimum between their marks: N was scaled by
    # what they showed and the windows ran again, MLPerf-style, each at least the minimum.
    latency = result.figures["latency"]
    rerun = latency["rerun_after_short_window"]
    assert rerun["inferences_per_window"] == 50 and rerun["shortest_window_s"] < RERUN_PLAN.min_window_s
    assert latency["inferences_per_window"] > 50 and min(latency["window_s"]) >= RERUN_PLAN.min_window_s
    assert "latency_s" not in result.raw     # no device time per inference to keep


class LabJoulescopes(SimulatedJoulescope):
    """One driver that sees a Joulescope per board: the probe opened by serial number streams
    that board's pulses, missing or delaying one when told to."""

    def __init__(self, probes: dict[str, dict]):
        super().__init__(pin=None)
        self.probes = probes
        self.paths = [f"u/js220/{serial}" for serial in probes]

    def open(self, device_prefix, mode=None, timeout=None):
        super().open(device_prefix, mode, timeout)
        settings = self.probes[device_prefix.split("/")[-1]]
        self.pin = settings["pin"]
        self.drop_mark = settings.get("drop_mark")
        self.delay_mark = settings.get("delay_mark")


def test_pytest_suite_on_plain_energy_mode_duts(pytester, tmp_path, plain_energy_firmware,
                                                monkeypatch):
    """`pytest --board=... --lab lab.yaml --model=ad` on four plain energy-mode DUTs: one with a
    good probe gives its row; a probe that misses a mark, one that sees the last mark too late,
    and a board with no probe fail with clear errors, and the good row is on disk."""
    probes, boards, endpoints = {}, {}, []
    for index, (name, fault) in enumerate([("good", {}), ("lost-mark", {"drop_mark": 3}),
                                           ("late-mark", {"delay_mark": (5, 0.2)}),
                                           ("no-probe", None)]):
        pin = tmp_path / f"{name}.pin"
        endpoints.append(start_dut(plain_energy_firmware, pin, monkeypatch))
        serial = f"00000{index}"
        if fault is not None:
            probes[serial] = {"pin": pin, **fault}
        boards[name] = (endpoints[-1].url, None if fault is None else f"kind: joulescope, serial: '{serial}'")
    lab = write_lab(tmp_path / "lab.yaml", boards)
    drivers = []
    monkeypatch.setattr(pyjoulescope_driver, "Driver",
                        lambda: drivers.append(LabJoulescopes(probes)) or drivers[-1])
    monkeypatch.setitem(procedure.TIMING_PLANS, "hardware", PLAN)
    monkeypatch.setenv("PYTEST_ADDOPTS", FAST_INNER_PYTEST)
    monkeypatch.setenv("HILBENCH_RESULTS", str(pytester.path / "results"))
    try:
        result = pytester.runpytest(f"--board={','.join(boards)}", f"--lab={lab}", "--model=ad",
                                    "--vectors=2")
    finally:
        for endpoint in endpoints:
            endpoint.close()
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines_random([
        "*hilbench: lost-mark *Joulescope 000001: found 5 timestamp marks *3 window(s) need 6*",
        "*hilbench: late-mark *Joulescope 000002: window 2 lasts * ms between its marks, longer "
        "than the host saw its 'infer * 2' command take*",
        "*hilbench: no-probe *the firmware on * is in energy mode and reports no device time*only "
        "a power probe's timestamp marks can time it*add the probe to the lab file*or flash its "
        "performance-mode firmware*",
        "good ad: latency empty (energy-mode firmware, no device time); * ms per inference between "
        "the timestamp marks (probe sample clock at 1e+06 Hz, not a latency figure)*avg power * mW (probe)*",
    ])
    [run_dir] = (pytester.path / "results" / "runs").iterdir()
    [row] = load_run(run_dir).rows
    [figures_file] = (run_dir / "figures").glob("*.json")
    figures = json.loads(figures_file.read_text())
    assert row["board"] == "good"
    good = [driver for driver in drivers if driver.pin == probes["000000"]["pin"]][-1]  # a rerun opens it again
    check_plain_energy_result(row, figures, "probe", good.marks)


def test_hilbench_measure_on_a_plain_energy_mode_dut(tmp_path, plain_energy_firmware, monkeypatch,
                                                     capsys):
    """`hilbench measure` with a probe gives the labelled row and the figures JSON; on a board
    with no probe, one line naming what to do and exit status 2."""
    pin = tmp_path / "pin"
    endpoint = start_dut(plain_energy_firmware, pin, monkeypatch)
    drivers = []
    monkeypatch.setattr(pyjoulescope_driver, "Driver",
                        lambda: drivers.append(SimulatedJoulescope(pin)) or drivers[-1])
    monkeypatch.setitem(procedure.TIMING_PLANS, "hardware", PLAN)
    probed = write_lab(tmp_path / "probed.yaml", {"plain": (endpoint.url, "kind: joulescope, serial: '000415'")})
    bare = write_lab(tmp_path / "bare.yaml", {"plain": (endpoint.url, None)})
    with endpoint:
        status = main(["measure", "--board=plain", f"--lab={probed}", "--model=ad", "--vectors=2",
                       f"--json={tmp_path / 'out.json'}"])
        probed_out = capsys.readouterr()
        bare_status = main(["measure", "--board=plain", f"--lab={bare}", "--model=ad", "--vectors=2"])
        bare_out = capsys.readouterr()
    assert status == 0, probed_out.err
    saved = json.loads((tmp_path / "out.json").read_text())
    check_plain_energy_result(saved["row"], saved["figures"], "probe", drivers[-1].marks)
    assert "latency empty (energy-mode firmware, no device time)" in probed_out.out
    assert bare_status == 2
    [line] = bare_out.err.strip().splitlines()
    assert line.startswith("hilbench: error: board 'plain': the firmware on ")
    assert "add the probe to the lab file" in line and "performance-mode firmware" in line
