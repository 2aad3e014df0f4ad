"""The benchmark procedure's decisions: which energy source, how many vectors and
inferences, when a capture is this run's, and latency on hardware with long windows."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from hilbench.bench import compiled_model_dir, open_dut
from hilbench.boards import resolve_boards
from hilbench.build import build_firmware
from hilbench.compile import compile_model
from hilbench.deploy.host import start_host_firmware
from hilbench.errors import ConfigError, MeasurementError
from hilbench.procedure import (ENERGY_MODE_DEFINES, TIMING_PLANS, BenchmarkOptions,
                                TimingPlan, benchmark_dut, choose_inferences_per_window,
                                energy_firmware_defines, energy_plan, evenly_spaced,
                                wait_for_capture)

PORTS_DIR = Path(__file__).parent / "fixtures" / "list_ports"


@pytest.fixture(autouse=True)
def no_boards_attached(monkeypatch):
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nothing.json"))


def lab_board(tmp_path: Path, extra: str, name: str = "bench-nano", extends: str = "nano33"):
    """A hardware board reached by URL (trusted without a port scan), from a lab file."""
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"boards:\n  {name}:\n    extends: {extends}\n"
                   "    connection: {url: 'socket://127.0.0.1:9'}\n    flasher: {kind: none}\n" + extra)
    [board] = resolve_boards([name], lab=lab)
    assert board.mode == "hardware"
    return board


def benchmark_preflashed_host_firmware(tmp_path: Path, model: Path, options: BenchmarkOptions):
    """(board, result) of the benchmark on host firmware that a lab file declares a pre-flashed
    nano33 on its port: hardware as far as hilbench can tell (device-timer, hardware windows)."""
    firmware = build_firmware("host", compile_model(model, compiled_model_dir(model, "portable")))
    with start_host_firmware(firmware) as endpoint:
        lab = tmp_path / "lab.yaml"
        lab.write_text("boards:\n  bench-nano:\n    extends: nano33\n"
                       f"    connection: {{port: '{endpoint.url}'}}\n    flasher: {{kind: none}}\n")
        [board] = resolve_boards(["bench-nano"], lab=lab)
        with open_dut(board, model) as dut:
            return board, benchmark_dut(dut, options)


def test_host_and_twins_get_no_or_modeled_energy():
    host, twin, no_profile = resolve_boards(["host", "nano33", "an547"], emulate=True)
    assert energy_plan(host).source == ""
    plan = energy_plan(twin)
    assert plan.source == "model" and "emulated twin" in plan.reason
    assert energy_firmware_defines(plan) == ()
    # a capture cannot describe an emulator or the host: refused before anything runs
    for board in (twin, host):
        with pytest.raises(MeasurementError, match="--energy-capture run.jls measures a board on hardware"):
            energy_plan(board, energy_capture="run.jls")
    plan = energy_plan(no_profile)
    assert plan.source == "" and "has no power profile" in plan.reason


def test_hardware_energy_source_follows_the_lab_file(tmp_path):
    probed = lab_board(tmp_path, "    power_probe: {kind: joulescope, serial: '000415', gpi: 2}\n")
    plan = energy_plan(probed)
    assert (plan.source, plan.probe_serial, plan.gpi) == ("probe", "000415", 2)
    assert energy_firmware_defines(plan) == ENERGY_MODE_DEFINES
    # --energy-capture wins over the live probe
    plan = energy_plan(probed, energy_capture=tmp_path / "run.jls")
    assert (plan.source, plan.capture_path) == ("capture", tmp_path / "run.jls")
    (tmp_path / "captures").mkdir()
    captured = lab_board(tmp_path, f"    power_probe: {{kind: joulescope, capture: {tmp_path}/captures/a.jls}}\n")
    assert energy_plan(captured).capture_path == tmp_path / "captures" / "a.jls"
    # a recording can never appear in a folder that does not exist: said before the run
    with pytest.raises(MeasurementError, match="the folder .*nowhere does not exist"):
        energy_plan(probed, energy_capture=tmp_path / "nowhere" / "run.jls")
    unprobed = lab_board(tmp_path, "")
    plan = energy_plan(unprobed)
    assert plan.source == "model" and "no power probe" in plan.reason


def test_probe_without_a_serial_number_and_a_bad_gpi_are_named(tmp_path):
    board = lab_board(tmp_path, "    power_probe: {kind: joulescope}\n")
    with pytest.raises(MeasurementError, match=r"no power_probe.serial; set boards.bench-nano.power_probe.serial"):
        energy_plan(board)
    with pytest.raises(ConfigError, match=r"power_probe.gpi"):
        lab_board(tmp_path, "    power_probe: {kind: joulescope, serial: '1', gpi: -1}\n")


def test_vectors_are_spread_over_the_whole_set():
    assert evenly_spaced(10, None).tolist() == list(range(10))
    assert evenly_spaced(10, 50).tolist() == list(range(10))
    assert evenly_spaced(200, 4).tolist() == [0, 66, 133, 199]   # both ends: every label group
    with pytest.raises(MeasurementError, match="max_vectors must be >= 1"):
        evenly_spaced(10, 0)


def test_inferences_per_window_meet_the_minimum_window():
    hardware = TIMING_PLANS["hardware"]
    assert hardware.min_window_s == 10.0 and hardware.windows == 5 and hardware.enforce_min_window
    # 1.2 x 10 s of 1 ms inferences; a first estimate 20% slow still fills 10 s
    assert choose_inferences_per_window(1e-3, hardware) == 12_000
    assert choose_inferences_per_window(30.0, hardware) == 1
    emulated = TIMING_PLANS["emulated"]
    assert choose_inferences_per_window(1e-4, emulated) == emulated.max_inferences == 3


def test_a_capture_must_be_written_after_the_energy_windows(tmp_path):
    old = tmp_path / "old.jls"
    old.write_bytes(b"x" * 100)
    os.utime(old, (time.time() - 60, time.time() - 60))
    with pytest.raises(MeasurementError, match=r"old.jls was not written after the energy windows ended"):
        wait_for_capture(old, time.time() - 1, timeout_s=0.3, poll_s=0.05)
    fresh = tmp_path / "fresh.jls"
    fresh.write_bytes(b"x" * 100)
    started = time.monotonic()
    wait_for_capture(fresh, time.time() - 1, timeout_s=5, poll_s=0.05)
    assert time.monotonic() - started < 1


def test_hardware_latency_with_more_inferences_than_ticks_kept(tmp_path, unlabelled_model):
    """A hardware window longer than the DUT's tick memory: percentiles from the kept ticks,
    window length from the m-lap-us stamps, energy modeled (no probe in the lab)."""
    plan = TimingPlan(windows=3, warmup=2, min_window_s=0.03, max_inferences=None,
                      enforce_min_window=True, why="test")
    board, result = benchmark_preflashed_host_firmware(tmp_path, unlabelled_model,
                                                       BenchmarkOptions(max_vectors=2, timing=plan))
    latency = result.figures["latency"]
    assert latency["inferences_per_window"] > latency["ticks_kept_per_window"] == 128
    assert latency["window_length_from"] == "m-lap-us stamps around the window"
    assert min(latency["window_s"]) >= plan.min_window_s
    assert len(result.raw["latency_s"]) == 3 * 128
    row = result.row
    assert (row["mode"], row["latency_source"], row["energy_source"]) == ("hardware", "device-timer", "model")
    assert row["cycles_per_inference"] == round(row["latency_ms_p50"] / 1e3 * board.board.clock_hz)
    assert row.get("flash_bytes") is None            # pre-flashed: no ELF here
    assert np.isfinite(row["energy_uj"]) and row.get("accuracy") is None   # random inputs: no labels


def test_windows_under_the_minimum_are_timed_again_with_more_inferences(tmp_path, unlabelled_model):
    """A capped first N gives windows far under an enforced minimum: N is scaled by what the
    windows showed and all windows run again."""
    plan = TimingPlan(windows=2, warmup=1, min_window_s=0.02, max_inferences=5,
                      enforce_min_window=True, why="test")
    _, result = benchmark_preflashed_host_firmware(tmp_path, unlabelled_model,
                                                   BenchmarkOptions(max_vectors=1, timing=plan))
    latency = result.figures["latency"]
    rerun = latency["rerun_after_short_window"]
    assert rerun["inferences_per_window"] == 5 and rerun["shortest_window_s"] < plan.min_window_s
    assert latency["inferences_per_window"] > 5 and min(latency["window_s"]) >= plan.min_window_s
