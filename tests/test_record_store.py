"""The run folder: rows appended atomically, provenance, raw data, serial logs, and what a
killed or interrupted process leaves behind."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from hilbench.record.atomic import is_temporary
from hilbench.record.rows import ResultsError
from hilbench.record.store import (
    RUN_ID_PATTERN,
    RunRecorder,
    list_runs,
    load_results,
    load_run,
    new_run_id,
)
from test_record_rows import sample_row

MEASUREMENT_FIELDS = ("board", "model", "runtime", "mode", "core", "clock_hz",
                      "latency_source", "latency_ms_p50", "latency_ms_p90",
                      "cycles_per_inference", "energy_source", "energy_uj", "accuracy",
                      "accuracy_float", "accuracy_delta", "bitexact_rate", "flash_bytes",
                      "ram_bytes")


def measurement(**kwargs) -> dict:
    """What a measuring stage hands to the recorder: no run-level columns."""
    row = sample_row(**kwargs)
    return {key: row[key] for key in MEASUREMENT_FIELDS + tuple(kwargs) if key in row}


def test_run_ids_sort_by_time_and_are_unique():
    early = new_run_id(datetime(2026, 11, 26, 9, 59, 59, 999000, tzinfo=timezone.utc))
    late = new_run_id(datetime(2026, 11, 26, 10, 0, 0, 1000, tzinfo=timezone.utc))
    assert early.startswith("20261126T095959.999Z-") and late.startswith("20261126T100000.001Z-")
    assert early < late
    assert RUN_ID_PATTERN.match(early)
    assert len({new_run_id() for _ in range(200)}) == 200


def test_a_run_folder_holds_rows_provenance_raw_data_and_serial_log(tmp_path):
    lab = tmp_path / "hilbench.yaml"
    lab.write_text("boards:\n  nano33:\n    port: /dev/ttyACM0\n")
    recorder = RunRecorder.start(tmp_path / "results", command_line=["pytest", "--board=nano33"],
                                 lab_file=lab)
    firmware = tmp_path / "firmware.elf"
    firmware.write_bytes(b"\x7fELF" + bytes(100))
    recorder.record_board("nano33", mode="hardware", board_serial="E1C2A3B4",
                          firmware_sha256="ab" * 32, toolchain="arm-none-eabi-gcc 12.2.1",
                          clock_hz=64_000_000)
    stored = recorder.append_row(measurement(board="nano33"))
    recorder.append_row(measurement(board="nano33", model="vww01"))
    latencies = np.array([181.2, 181.0, 181.4], dtype=np.float64)
    raw_path = recorder.write_raw("nano33", "kws01", {"latency_ms": latencies,
                                                      "outputs": np.zeros((3, 12), np.int8)})
    twin_path = recorder.write_raw("nano33", "kws01", {"latency_ms": latencies},
                                   runtime="hilbench-int8", mode="emulated")
    assert twin_path.name == "nano33__kws01__hilbench-int8__emulated.npz"
    session_log = ["  0.000000 > name%", "  0.001200 < m-name-[hilbench]", "  0.001300 < m-ready"]
    log_path = recorder.save_serial_log("nano33", session_log[:2], model="kws01",
                                        header="serial log started 2026-11-26T18:39:47+0000")
    log_path = recorder.save_serial_log("nano33", session_log, model="kws01",
                                        header="serial log started 2026-11-26T18:39:47+0000")

    run_dir = recorder.run_dir
    assert run_dir.parent.name == "runs" and run_dir.name == recorder.run_id
    assert stored["run_id"] == recorder.run_id and stored["schema_version"] == 1
    assert stored["hilbench_version"] == "0.1.0" and stored["timestamp"]

    loaded = load_run(run_dir)
    assert [row["model"] for row in loaded.rows] == ["kws01", "vww01"]
    assert loaded.rows == recorder.rows
    assert loaded.name == f"run {recorder.run_id}"

    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert provenance["run_id"] == recorder.run_id
    assert provenance["command_line"] == "pytest --board=nano33"
    assert provenance["lab_file_contents"] == lab.read_text()
    assert provenance["boards"]["nano33"]["board_serial"] == "E1C2A3B4"
    assert provenance["boards"]["nano33"]["clock_hz"] == 64_000_000
    assert provenance["host"]["python"] and provenance["hilbench_version"] == "0.1.0"
    # this checkout is a git repository: the sha is the real HEAD
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent).stdout.strip()
    assert provenance["git_sha"].startswith(head)
    assert stored["git_sha"] == provenance["git_sha"]

    with np.load(raw_path) as raw:
        assert raw_path.name == "nano33__kws01.npz"
        np.testing.assert_array_equal(raw["latency_ms"], latencies)
        assert raw["outputs"].dtype == np.int8
    assert log_path == run_dir / "serial" / "nano33__kws01.log"
    assert log_path.read_text().splitlines() == [
        "# serial log started 2026-11-26T18:39:47+0000"] + session_log
    assert not [p for p in run_dir.rglob("*") if is_temporary(p)]


def test_bad_rows_are_refused_and_leave_the_file_as_it_was(tmp_path):
    recorder = RunRecorder.start(tmp_path, command_line=["x"])
    recorder.append_row(measurement())
    before = (recorder.run_dir / "results.csv").read_bytes()
    with pytest.raises(ResultsError, match="latency_source 'icount' cannot come from mode "
                                           "'hardware'"):
        recorder.append_row(measurement(latency_source="icount"))
    with pytest.raises(ResultsError, match="cannot be added to run"):
        recorder.append_row(dict(measurement(), run_id="20200101T000000.000Z-000000"))
    assert (recorder.run_dir / "results.csv").read_bytes() == before
    assert len(load_run(recorder.run_dir).rows) == 1


def test_list_runs_is_oldest_first_and_load_results_accepts_folders_and_csvs(tmp_path):
    first = RunRecorder.start(tmp_path, run_id="20261125T220000.000Z-aaaaaa", command_line=["x"])
    second = RunRecorder.start(tmp_path, run_id="20261126T010000.000Z-bbbbbb", command_line=["x"])
    (tmp_path / "runs" / "not-a-run").mkdir()
    assert list_runs(tmp_path) == [first.run_dir, second.run_dir]
    second.append_row(measurement())
    from_csv = load_results(second.run_dir / "results.csv")
    assert from_csv.kind == "csv" and from_csv.rows == load_results(second.run_dir).rows
    with pytest.raises(ResultsError, match="is not a run folder"):
        load_results(tmp_path / "runs" / "not-a-run")
    with pytest.raises(ResultsError, match="does not exist; give a run folder"):
        load_results(tmp_path / "missing.csv")
    with pytest.raises(ResultsError, match="does not look like"):
        RunRecorder.start(tmp_path, run_id="latest")


# The child appends rows with 1 MB of raw data each and announces every finished row. Once
# ROWS_BEFORE_SIGNAL rows are done, its os.fsync (stdlib, not our code) announces "writing"
# and stalls on the next temporary file of the chosen kind (raw .npz or results.csv), so the
# parent's signal lands while that file is written but not yet renamed: the worst moment.
ROWS_BEFORE_SIGNAL = 3
CHILD = textwrap.dedent("""
    import os, signal, stat, sys, time
    # Ctrl-C must raise KeyboardInterrupt even when the test run was started in the background,
    # whose shell starts its children with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    from hilbench.record.store import RunRecorder
    sys.path.insert(0, sys.argv[2])
    from test_record_rows import sample_row

    stall_in, rows_before_signal = sys.argv[3], int(sys.argv[4])
    armed = False
    real_fsync = os.fsync
    def stalling_fsync(descriptor):
        real_fsync(descriptor)
        if armed and not stat.S_ISDIR(os.fstat(descriptor).st_mode):
            print("writing", flush=True)
            time.sleep(60)
    os.fsync = stalling_fsync

    recorder = RunRecorder.start(sys.argv[1], command_line=["child"])
    print("run", recorder.run_dir, flush=True)
    for index in range(rows_before_signal + 1):
        row = sample_row(slower_by=1 + index / 100)
        row = {k: row[k] for k in ("board", "model", "runtime", "mode", "latency_source",
                                   "latency_ms_p50", "energy_source", "energy_uj")}
        row["model"] = f"kws01-{index}"  # one row per model: a run refuses a second row for one
        armed = index == rows_before_signal and stall_in == "raw"
        recorder.write_raw("nucleo-l4r5zi", f"kws01-{index}",
                           {"latency_ms": np.full(131072, row["latency_ms_p50"])})
        armed = index == rows_before_signal and stall_in == "row"
        recorder.append_row(row)
        print("appended", index + 1, flush=True)
    print("not interrupted", flush=True)
""")


def _interrupt_child(tmp_path: Path, stall_in: str, signal_number: int):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(Path(__file__).parent), stall_in,
         str(ROWS_BEFORE_SIGNAL)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir, appended = None, 0
    try:
        for line in child.stdout:
            if line.startswith("run "):
                run_dir = Path(line.split(" ", 1)[1].strip())
            elif line.startswith("appended "):
                appended = int(line.split()[1])
            elif line.startswith("writing"):
                child.send_signal(signal_number)
                break
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    rest = child.stdout.read()
    child.stdout.close()
    child.stderr.close()
    assert "appended" not in rest and "not interrupted" not in rest
    return run_dir, appended, child


@pytest.mark.parametrize("stall_in, signal_number", [
    ("row", signal.SIGKILL), ("raw", signal.SIGKILL), ("row", signal.SIGINT)],
    ids=["sigkill-writing-results.csv", "sigkill-writing-raw", "ctrl-c-writing-results.csv"])
def test_a_killed_run_keeps_every_finished_row_and_no_half_written_file(
        tmp_path, stall_in, signal_number):
    run_dir, appended, child = _interrupt_child(tmp_path, stall_in, signal_number)
    assert child.returncode != 0, "the child should have died from the signal"
    assert appended == ROWS_BEFORE_SIGNAL
    rows = load_run(run_dir).rows              # parses: no half-written results.csv
    assert len(rows) == appended               # every finished row, not the interrupted one
    assert [row["latency_ms_p50"] for row in rows] == sorted(r["latency_ms_p50"] for r in rows)
    visible = [p for p in run_dir.rglob("*") if p.is_file() and not is_temporary(p)]
    raw_files = [p for p in visible if p.suffix == ".npz"]
    # the raw file of the interrupted row exists only if its write had finished
    assert len(raw_files) == appended + (stall_in == "row")
    for path in raw_files:
        with np.load(path) as raw:
            assert raw["latency_ms"].shape == (131072,)
    json.loads((run_dir / "provenance.json").read_text())
    leftovers = [p for p in run_dir.rglob("*") if is_temporary(p)]
    if signal_number == signal.SIGINT:
        assert leftovers == [], "Ctrl-C must clean up its temporary file"
    else:
        assert len(leftovers) == 1                 # the interrupted write, hidden and ignored
    assert list_runs(tmp_path) == [run_dir]


@pytest.mark.parametrize("second, error", [
    ({"board": "nano33"}, "already has a row for board 'nano33'"),     # the same row again
    ({"board": "nano33!"}, "boards 'nano33' and 'nano33!' would share the file name 'nano33'"),
    ({"model": "kws01?"}, "models 'kws01' and 'kws01?' would share the file name 'kws01'"),
])
def test_a_row_whose_files_would_overwrite_another_rows_is_refused(tmp_path, second, error):
    recorder = RunRecorder.start(tmp_path, command_line=["x"])
    first = measurement(board="nano33", model="kws01")
    recorder.append_row(first)
    recorder.write_raw("nano33", "kws01", {"latency_ms": [1.0]}, runtime=first["runtime"], mode=first["mode"])
    with pytest.raises(ResultsError, match=re.escape(error)):
        recorder.append_row({**first, **second})
    [kept] = load_run(recorder.run_dir).rows
    assert (kept["board"], kept["model"]) == ("nano33", "kws01")
    assert [p.name for p in (recorder.run_dir / "raw").iterdir()] == \
        [f"nano33__kws01__{first['runtime']}__{first['mode']}.npz"]
