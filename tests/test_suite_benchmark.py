"""The benchmark suite end to end, as `pytest --board=...` runs it: one result row per
board x model x runtime with the contract columns, the figures behind each row in the run
folder, and the summary at the end. Host and one QEMU twin, one small model, few vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
# Loaded before the in-process pytester runs: they unload modules imported inside them, and
# an extension module cannot be loaded twice.
from tflite_micro.python.tflite_micro import runtime  # noqa: F401

from hilbench.record import load_run
from hilbench.record.schema import RESULT_COLUMNS
from tests.support.inner_pytest import FAST_INNER_PYTEST as FAST

pytest_plugins = ["pytester"]

PORTS_DIR = Path(__file__).parent / "fixtures" / "list_ports"


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", FAST)
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nothing.json"))
    monkeypatch.setenv("HILBENCH_RESULTS", str(pytester.path / "results"))
    return pytester   # an empty folder: --board adds the reference suite shipped in the package


def test_suite_on_host_and_a_qemu_twin(suite):
    result = suite.runpytest("--board=host,nano33", "--emulate", "--model=gesture", "--vectors=4", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*hilbench results*",
        "host *host *gesture *hilbench-portable *ms (host-clock)*",
        "nano33 *emulated *gesture *hilbench-dsp *ms (icount)*uJ (model)*",
        "host gesture: p50 * ms [[]95% CI *] (host-clock), 5 x * inferences; host round trip * ms (host-clock); "
        "vectors in via bulk-crc at * (host-clock)",
        "nano33 gesture: p50 * ms [[]95% CI *] (icount), 2 x * inferences; host round trip * ms "
        "(host-clock); avg power * mW (model), idle * mW, idle energy * uJ/inference; "
        "vectors in via host-file at * (host-clock); stack >= * B, arena * B",
    ])
    [run_dir] = (suite.path / "results" / "runs").iterdir()
    rows = {row["board"]: row for row in load_run(run_dir).rows}
    assert set(rows) == {"host", "nano33"}
    assert all(tuple(row) == RESULT_COLUMNS for row in rows.values())

    host, twin = rows["host"], rows["nano33"]
    assert (host["mode"], host["latency_source"], host["energy_source"]) == ("host", "host-clock", "")
    assert host["energy_uj"] is None and host["flash_bytes"] is None   # a host process has neither
    assert (twin["mode"], twin["latency_source"], twin["energy_source"]) == ("emulated", "icount", "model")
    # the twin's latency is instructions x cpi: the row says which cpi and where it came from
    assert (twin["cpi"], twin["cpi_source"]) == (1.0, "uncalibrated: assumed, not fitted")
    assert (host["cpi"], host["cpi_source"]) == (None, "")
    for row in rows.values():
        assert row["bitexact_rate"] == 1.0 and 0 <= row["accuracy"] <= 1
        assert row["accuracy_delta"] == pytest.approx(row["accuracy"] - row["accuracy_float"])
        assert 0 < row["latency_ms_p50"] <= row["latency_ms_p90"]
        # cloud columns belong to the edge-vs-cloud stage
        assert row["cloud_latency_ms"] is None
    assert twin["flash_bytes"] > 0 and twin["ram_bytes"] > 0 and twin["cycles_per_inference"] > 0

    figures = json.loads((run_dir / "figures" / "nano33__gesture__hilbench-dsp__emulated.json").read_text())
    latency = figures["latency"]
    # icount is deterministic: timed inferences of one input differ by a few timer ticks at
    # most, so the CI is a hair wide
    assert latency["latency_ms_p50_ci95_low"] <= twin["latency_ms_p50"] <= latency["latency_ms_p50_ci95_high"]
    assert latency["latency_ms_p50_ci95_high"] - latency["latency_ms_p50_ci95_low"] < 1e-4 * twin["latency_ms_p50"]
    assert latency["host_round_trip_ms"] > 0 and latency["windows"] == 2
    assert latency["outputs_changed"] is False
    assert "icount is deterministic" in figures["timing_plan"]["why"]
    vectors = figures["vectors"]
    assert (vectors["count"], vectors["origin"]) == (4, "4 of 240 zoo test vectors")
    # How the harness moved them: the twin's host file, 4 x 128 x 3 int8 inputs, host-clock.
    assert (vectors["harness"]["load_path"], vectors["harness"]["bytes_in"]) == ("host-file", 4 * 384)
    assert vectors["harness"]["clock"] == "host-clock" and vectors["harness"]["load_bytes_per_s"] > 0
    assert {"build", "boot twin", "vectors", "reference", "timing"} <= set(figures["harness_s"])
    energy = figures["energy"]
    assert energy["source"] == "model" and energy["idle_power_mw"] > 0
    assert energy["average_power_mw"] > energy["idle_power_mw"]
    stack = figures["footprint"]["stack"]
    assert stack["stack_method"] == "call-graph" and stack["worst_path"][0] == "main"
    assert stack["stack_bytes"] > 0 and figures["footprint"]["arena_bytes"] > 0

    host_figures = json.loads((run_dir / "figures" / "host__gesture__hilbench-portable__host.json").read_text())
    assert host_figures["energy"] == {"source": "", "why": "a host run draws no board's energy"}
    assert (run_dir / "raw" / "host__gesture__hilbench-portable__host.npz").is_file()


def test_suite_fails_a_row_with_a_clear_error_for_a_bad_vector_count(suite):
    result = suite.runpytest("--board=host", "--model=gesture", "--vectors=0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*max_vectors must be >= 1, got 0*"])


def test_a_probe_without_serial_number_fails_the_row_before_building(suite):
    lab = suite.path / "lab.yaml"
    lab.write_text("boards:\n  bench-nano:\n    extends: nano33\n"
                   "    connection: {url: 'socket://127.0.0.1:9'}\n    flasher: {kind: none}\n"
                   "    power_probe: {kind: joulescope}\n")
    result = suite.runpytest("--board=bench-nano", f"--lab={lab}", "--model=gesture")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*hilbench: bench-nano (hardware on socket://127.0.0.1:9), gesture: "
                                 "board 'bench-nano' has a Joulescope (power_probe.kind) but no "
                                 "power_probe.serial; set boards.bench-nano.power_probe.serial*"])
