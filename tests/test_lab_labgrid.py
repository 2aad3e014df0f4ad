"""The lab on loopback, with real labgrid processes: a coordinator, one exporter per "host",
one place per emulated twin, and hilbench as the client (the suite, with and without -n)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hilbench.deploy.qemu import instructions_from_ticks
from hilbench.record.store import list_runs, load_run
from tests.support.labgrid_lab import Lab, lab_file, start_twin, tcp_port
from tests.support.workflow_steps import run_job
from tests.test_report_workflow import load_workflow

pytestmark = pytest.mark.emulator

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "hilbench" / "suite"
SUITE_ENV = {**os.environ, "PYTHONPATH": str(REPO)}
MODEL = "ad"
VECTORS = "20"
PLACES = {"twin-a": "hb-twin-a", "twin-b": "hb-twin-b"}
# Figures that come from the twin alone (instruction counts, outputs), never from the host's clock.
DEVICE_COLUMNS = ("mode", "latency_source", "latency_ms_p50", "latency_ms_p90",
                  "cycles_per_inference", "energy_source", "energy_uj", "accuracy",
                  "accuracy_delta", "bitexact_rate")
DEVICE_ARRAYS = ("outputs", "reference_outputs", "vector_instructions", "latency_s")


# A third board for the signal tests alone: a client killed mid-command can leave a served
# twin inside an unfinished command (a board would be reset by its next flash), which must
# not decide the other tests.
SIGNAL_PLACES = {"twin-c": "hb-twin-c"}


def build_lab(folder: Path, twins: dict) -> Lab:
    """One host (exporter) per twin, exporting its UART; one place per twin."""
    lab = Lab(folder).start()
    for board, twin in twins.items():
        host = board.replace("twin", "host")
        lab.add_exporter(host, {board: tcp_port(twin.url)})
        lab.add_place(f"hb-{board}", f"{host}/{board}/NetworkSerialPort", board="nano33")
    return lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    twins = {board: start_twin(MODEL) for board in {**PLACES, **SIGNAL_PLACES}}
    lab = build_lab(tmp_path_factory.mktemp("lab"), twins)
    lab.twins = twins
    yield lab
    stop_everything(lab, twins)


def stop_everything(lab: Lab, twins: dict) -> None:
    processes = list(lab.processes.values()) + [twin.process for twin in twins.values()]
    qemu = [int(twin.facts["qemu_pid"]) for twin in twins.values()]
    lab.stop()
    for twin in twins.values():
        twin.close()
    assert all(process.poll() is not None for process in processes)   # every process stopped
    assert not [pid for pid in qemu if Path(f"/proc/{pid}").exists()
                and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]


def suite_command(lab_path: Path, boards: str, results: Path, *extra: str) -> list[str]:
    """``pytest --board=... --model=ad`` as a user runs it (other plugins only slow it down)."""
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:benchmark",
            "-p", "no:hypothesispytest", "-p", "no:labgrid", f"--board={boards}",
            f"--model={MODEL}", "--lab", str(lab_path), "--vectors", VECTORS,
            "--results-dir", str(results), *extra, str(SUITE)]


def run_suite(tmp: Path, lab_path: Path, boards: str, *extra: str, results: Path | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess:
    """The suite in a fresh process, to its end."""
    return subprocess.run(suite_command(lab_path, boards, results or tmp / "results", *extra),
                          cwd=tmp, capture_output=True, text=True, timeout=timeout, env=SUITE_ENV,
                          stdin=subprocess.DEVNULL)


def start_suite(tmp: Path, lab_path: Path, boards: str, *extra: str) -> subprocess.Popen:
    """The suite in a fresh process, left running. A background shell starts children with
    SIGINT ignored: this one gets the default, so that Ctrl-C reaches it."""
    return subprocess.Popen(suite_command(lab_path, boards, tmp / "results", *extra), cwd=tmp,
                            env=SUITE_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_until_held(lab: Lab, place: str, run: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while lab.holder(place) is None:
        assert run.poll() is None, run.stdout.read()
        assert time.monotonic() < deadline, f"{place} was never acquired"
        time.sleep(0.1)


def device_figures(run_dir: Path, board: str) -> tuple[dict, dict]:
    """A row's figures that come from the twin, and its per-vector arrays: outputs and
    instruction counts (a twin's timer ticks can differ by one between runs, a fraction of an
    instruction: the count they round to is what must not change)."""
    [row] = [row for row in load_run(run_dir).rows if row["board"] == board]
    raw = dict(np.load(next((run_dir / "raw").glob(f"{board}__*.npz"))))
    serial_log = next((run_dir / "serial").glob(f"{board}__*.log")).read_text()
    timer_hz = int(re.search(r"m-hb-timer-\[[^,]+,(\d+)\]", serial_log).group(1))
    raw["vector_instructions"] = np.array([instructions_from_ticks(int(t), timer_hz)
                                           for t in raw["vector_ticks"]])
    return {c: row[c] for c in DEVICE_COLUMNS}, {a: raw[a] for a in DEVICE_ARRAYS}


def test_two_boards_in_parallel_write_the_rows_of_two_serial_runs(lab, tmp_path):
    lab_path = lab_file(tmp_path / "lab.yaml", lab.coordinator, PLACES)
    parallel = run_suite(tmp_path, lab_path, "twin-a,twin-b", "-n", "2",
                         results=tmp_path / "parallel")
    assert parallel.returncode == 0, parallel.stdout[-3000:] + parallel.stderr[-3000:]
    [run_dir] = list_runs(tmp_path / "parallel")                 # ONE run folder for both workers
    rows = load_run(run_dir).rows
    assert sorted(row["board"] for row in rows) == ["twin-a", "twin-b"]   # none lost or doubled
    table = parallel.stdout[parallel.stdout.index("hilbench results"):]
    assert table.count("twin-a  emulated") == 1 and table.count("twin-b  emulated") == 1
    assert f"run folder: {run_dir}" in parallel.stdout

    for board in PLACES:                                         # the same boards, one at a time
        serial = run_suite(tmp_path, lab_path, board, results=tmp_path / f"serial-{board}")
        assert serial.returncode == 0, serial.stdout[-3000:]
        [serial_dir] = list_runs(tmp_path / f"serial-{board}")
        in_parallel, in_serial = device_figures(run_dir, board), device_figures(serial_dir, board)
        assert in_parallel[0] == in_serial[0]
        assert in_parallel[0]["mode"] == "emulated" and in_parallel[0]["latency_source"] == "icount"
        for name in DEVICE_ARRAYS:
            np.testing.assert_array_equal(in_parallel[1][name], in_serial[1][name], err_msg=name)
    assert lab.holder("hb-twin-a") is None and lab.holder("hb-twin-b") is None   # released

    # A twin that the lab serves measures what the same board's local twin measures.
    local = run_suite(tmp_path, lab_path, "nano33", "--emulate", results=tmp_path / "local")
    assert local.returncode == 0, local.stdout[-3000:]
    figures_local, arrays_local = device_figures(list_runs(tmp_path / "local")[0], "nano33")
    figures_lab, arrays_lab = device_figures(run_dir, "twin-a")
    assert figures_lab == figures_local
    for name in DEVICE_ARRAYS:
        np.testing.assert_array_equal(arrays_lab[name], arrays_local[name], err_msg=name)


def test_a_place_held_by_someone_else_is_waited_for_then_named(lab, tmp_path):
    lab_path = lab_file(tmp_path / "lab.yaml", lab.coordinator, PLACES, acquire_timeout_s=2)
    lab.client("-p", "hb-twin-a", "acquire", user="alice", check=True)
    try:
        listing = subprocess.run([sys.executable, "-m", "hilbench.cli", "boards", "--lab",
                                  str(lab_path)], capture_output=True, text=True, cwd=tmp_path,
                                 env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
        assert listing.returncode == 0, listing.stderr
        line_a = next(line for line in listing.stdout.splitlines() if line.startswith("twin-a "))
        line_b = next(line for line in listing.stdout.splitlines() if line.startswith("twin-b "))
        assert "emulated on labgrid place hb-twin-a" in line_a and "hb-twin-a held by" in line_a
        assert "/alice" in line_a and "hb-twin-b free" in line_b

        started = time.monotonic()
        result = run_suite(tmp_path, lab_path, "twin-a")
        waited = time.monotonic() - started
        assert result.returncode == 1
        assert "no place hb-twin-a became free within 2 s" in result.stdout
        assert "hb-twin-a is held by" in result.stdout and "/alice" in result.stdout
        assert "Traceback" not in result.stdout and waited < 60
        assert lab.holder("hb-twin-a").endswith("/alice")           # still hers
        assert "Reservation" not in lab.client("reservations", check=True).stdout   # ours dropped
    finally:
        lab.client("-p", "hb-twin-a", "release", user="alice", check=True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_the_place_is_released_on_sigterm_and_ctrl_c(lab, tmp_path, signum):
    lab_path = lab_file(tmp_path / "lab.yaml", lab.coordinator, SIGNAL_PLACES)
    run = start_suite(tmp_path, lab_path, "twin-c", "--vectors", "200")   # runs for seconds
    try:
        wait_until_held(lab, "hb-twin-c", run)
        run.send_signal(signum)
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode != 0
    assert lab.holder("hb-twin-c") is None, output[-3000:]
    assert "Reservation" not in lab.client("reservations", check=True).stdout


def checkout_for_the_workflow(workspace: Path) -> None:
    """What the workflow's steps read from the checkout, with hilbench from this one: the
    collection rules, the published leaderboard, and a .venv of this Python (the reference
    suite comes with the package)."""
    for name in ("conftest.py", "pyproject.toml", "results/leaderboard.csv"):
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, workspace / name)
    venv = workspace / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "hilbench").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m hilbench.cli "$@"\n')
    for tool in ("python", "hilbench"):
        (venv / tool).chmod(0o755)


def test_the_nightly_workflow_runs_its_shell_steps_against_a_lab_of_twins(lab, tmp_path):
    workspace = tmp_path / "workspace"
    checkout_for_the_workflow(workspace)
    lab_file(workspace / "hilbench.yaml", lab.coordinator, PLACES)
    job = load_workflow()["jobs"]["benchmark"]
    run = run_job(job, workspace, skip=("Install hilbench in a virtual environment",),
                  variables={"HILBENCH_WORKERS": "2", "HILBENCH_REQUIRE_HARDWARE": "no",
                             "HILBENCH_CLOUD": "no"},
                  # the twins run the ad firmware; a few vectors keep the test short
                  environment={"PYTHONPATH": str(REPO), "PYTEST_ADDOPTS":
                               f"--model={MODEL} --vectors={VECTORS} -p no:benchmark "
                               "-p no:hypothesispytest -p no:cacheprovider"})
    outcomes = {step.name: step.outcome for step in run.steps}
    assert outcomes == {
        "actions/checkout@v5": "skipped", "Install hilbench in a virtual environment": "skipped",
        "Keep the published leaderboard as the baseline": "success",
        "List the lab's boards and who holds their places": "success",
        "Run the benchmark suite on every board": "success",
        "Find this night's run folder": "success", "Merge into the leaderboard": "success",
        "Compare with the published leaderboard": "success", "HTML report": "success",
        "Summary": "success", "Upload results": "skipped"}, \
        "\n".join(f"--- {s.name}\n{s.output[-3000:]}" for s in run.steps if s.outcome == "failure")
    assert run.step("List the lab's boards and who holds their places").outputs == \
        {"boards": "twin-a,twin-b"}
    suite = run.step("Run the benchmark suite on every board").output
    assert "created: 2/2 workers" in suite and "2 passed" in suite
    [run_dir] = list_runs(workspace / "results")
    assert sorted(row["board"] for row in load_run(run_dir).rows) == ["twin-a", "twin-b"]
    out = workspace / "nightly-out"
    leaderboard = (out / "leaderboard.csv").read_text()
    assert "twin-a" in leaderboard and "twin-b" in leaderboard
    assert (out / "report.html").stat().st_size > 0 and (out / "run" / "results.csv").is_file()
    assert "## hilbench nightly" in run.summary


def test_an_exporter_dying_mid_run_fails_that_row_and_the_other_board_finishes(lab, tmp_path):
    """The last test of the module: it takes host b (its exporter and its twin) down."""
    lab_path = lab_file(tmp_path / "lab.yaml", lab.coordinator, PLACES)
    run = start_suite(tmp_path, lab_path, "twin-a,twin-b", "-n", "2", "--vectors", "30")
    wait_until_held(lab, "hb-twin-b", run)
    time.sleep(0.5)                        # mid-run: its 30 vectors take seconds
    lab.kill("exporter-host-b")            # host b goes down: its exporter and its twin
    lab.twins["twin-b"].kill()
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 1, output[-4000:]
    # On a loaded machine host b may go down while its DUT is still being opened (the row
    # fails in the dut fixture, an "error") rather than mid-vectors (a "failed" test): either
    # way that row fails with the same message and the other board finishes.
    assert re.search(r"\b1 (failed|error), 1 passed|\b1 passed, 1 (failed|error)\b", output), output[-6000:]
    failure = output[output.index("test_reference_benchmark[twin-b-ad]"):]
    assert "hilbench: twin-b (emulated on labgrid place hb-twin-b), ad: " in failure
    assert "reading from socket://127.0.0.1:" in failure and "the DUT closed the line" in failure
    assert "Traceback" not in output and "def test_reference_benchmark" not in failure
    [run_dir] = list_runs(tmp_path / "results")
    assert [row["board"] for row in load_run(run_dir).rows] == ["twin-a"]
    assert lab.holder("hb-twin-a") is None and lab.holder("hb-twin-b") is None
