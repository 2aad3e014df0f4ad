"""The `dut` fixture end to end on the host board, and what the repository root collects."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import hilbench.record.store  # noqa: F401  (numpy must stay loaded across in-process pytester runs)
from tests.support.inner_pytest import FAST_INNER_PYTEST as FAST

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
PORTS_DIR = Path(__file__).parent / "fixtures" / "list_ports"




def test_dut_fixture_runs_a_model_on_the_host(pytester, monkeypatch, unlabelled_model):
    monkeypatch.setenv("PYTEST_ADDOPTS", FAST)
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nothing.json"))
    monkeypatch.setenv("HILBENCH_RESULTS", str(pytester.path / "results"))
    pytester.makepyfile("""
        import numpy as np

        def test_first(dut, hilbench_results):
            outputs, run = dut.infer(np.zeros((2, 640), np.int8))
            assert outputs.shape == (2, 640) and (outputs[0] == outputs[1]).all()
            timing = dut.time(np.zeros(640, np.int8), n=3)
            seconds = dut.inference_seconds(timing.ticks, timing.timer_hz)
            hilbench_results.record(dut.result_row(latency_ms_p50=float(np.median(seconds)) * 1e3))
            print("PID", dut.endpoint.pid)

        def test_second_shares_the_dut(dut):
            print("PID", dut.endpoint.pid)
            assert dut.mode == "host" and dut.latency_source == "host-clock"
    """)
    result = pytester.runpytest("--board=host", f"--model={unlabelled_model}", "-s",
                                "--no-reference-suite")
    result.assert_outcomes(passed=2)
    pids = re.findall(r"PID (\d+)", result.stdout.str())
    assert len(pids) == 2 and pids[0] == pids[1]           # one firmware process for both tests
    result.stdout.fnmatch_lines(["*hilbench results*",
                                 "host*host*ad_plain*hilbench-portable*ms (host-clock)*"])
    [run_dir] = (pytester.path / "results" / "runs").iterdir()
    provenance = json.loads((run_dir / "provenance.json").read_text())
    host_facts = provenance["boards"]["host"]
    assert host_facts["mode"] == "host"
    assert host_facts["firmware"]["ad_plain"]["target"] == "host"
    assert len(host_facts["firmware"]["ad_plain"]["firmware_sha256"]) == 64
    serial_log = (run_dir / "serial" / "host__ad_plain.log").read_text()
    assert "profile" in serial_log and "m-ready" in serial_log
    assert not Path(f"/proc/{pids[0]}").exists() or \
        "zombie" in Path(f"/proc/{pids[0]}/status").read_text().lower()   # stopped at session end


def test_dut_deploy_failure_fails_each_test_cleanly(pytester, monkeypatch, unlabelled_model):
    monkeypatch.setenv("PYTEST_ADDOPTS", FAST)
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nano33_ble.json"))
    pytester.makepyfile("""
        def test_one(dut):
            pass

        def test_two(dut):
            pass
    """)
    result = pytester.runpytest("--board=nano33", f"--model={unlabelled_model}", "--no-reference-suite")
    result.assert_outcomes(errors=2)
    # the real board is "connected" but cannot be flashed here: say so, and what to do instead
    result.stdout.fnmatch_lines(["*hilbench: nano33 (hardware on /dev/ttyACM0), ad_plain: *--emulate*"])
    assert "Traceback" not in result.stdout.str()


def collect(*args: str) -> list[str]:
    """Test ids collected by `pytest` run in the repository root."""
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                             *FAST.split(), *args], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_plain_pytest_never_collects_the_benchmark_suite():
    ids = collect()
    assert ids and not any(test_id.startswith("hilbench/suite/") for test_id in ids)
    assert any(test_id.startswith("tests/test_boards_catalog.py::") for test_id in ids)


def test_board_option_collects_only_the_suite_one_test_per_board_and_model():
    ids = collect("--board=host,an547", "--model=ad", "--model=kws")
    assert sorted(ids) == sorted(
        f"hilbench/suite/test_reference_benchmark.py::test_reference_benchmark[{board}-{model}]"
        for board in ("host", "an547") for model in ("ad", "kws"))


def test_a_board_runs_one_firmware_at_a_time(pytester, monkeypatch, unlabelled_model):
    monkeypatch.setenv("PYTEST_ADDOPTS", FAST)
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nothing.json"))
    pytester.makepyfile("""
        import os

        started = []

        def test_model(dut):
            for pid in started:   # the DUT of the previous model was stopped
                assert not os.path.exists(f"/proc/{pid}"), "previous DUT still running"
            started.append(dut.endpoint.pid)
            assert dut.endpoint.is_alive()
    """)
    result = pytester.runpytest("--board=host", f"--model={unlabelled_model}", "--model=gesture", "-v",
                                "--no-reference-suite")
    result.assert_outcomes(passed=2)
    assert "test_model[host-ad_plain]" in result.stdout.str()
    assert "test_model[host-gesture]" in result.stdout.str()


def test_suite_named_without_board_is_skipped_with_the_reason():
    result = subprocess.run([sys.executable, "-m", "pytest", "-rs", *FAST.split(),
                             "hilbench/suite"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "needs a board: run pytest with --board=NAME" in result.stdout


USER_TEST = """
    import numpy as np

    def test_mine(dut):
        outputs, _ = dut.infer(np.zeros((1, 640), np.int8))
        assert outputs.shape == (1, 640)
"""


def test_board_option_runs_the_reference_suite_beside_a_users_tests(pytester, monkeypatch):
    """In any folder, `pytest --board=B` runs the suite shipped in the package and the
    folder's own tests; --no-reference-suite runs only the folder's."""
    monkeypatch.setenv("PYTEST_ADDOPTS", FAST)
    monkeypatch.setenv("HILBENCH_LIST_PORTS", str(PORTS_DIR / "nothing.json"))
    monkeypatch.setenv("HILBENCH_RESULTS", str(pytester.path / "results"))
    pytester.makepyfile(test_mine=USER_TEST)
    result = pytester.runpytest("--board=host", "--model=ad", "--vectors=2", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_mine.py::test_mine[[]host-ad[]] PASSED*",
                                 "*test_reference_benchmark[[]host-ad[]] PASSED*",
                                 "*hilbench results*", "host*host*ad*"])
    only_mine = pytester.runpytest("--board=host", "--model=ad", "--no-reference-suite", "-v")
    only_mine.assert_outcomes(passed=1)
    assert "test_reference_benchmark" not in only_mine.stdout.str()
