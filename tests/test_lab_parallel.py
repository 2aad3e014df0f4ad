"""Boards side by side: several processes write one run folder, and a board is held by one
process at a time (file locks, when there is no labgrid coordinator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hilbench.boards import resolve_board
from hilbench.boards.catalog import load_boards
from hilbench.errors import DeployError
from hilbench.lab.locks import board_lock, lock_path
from hilbench.record.store import RunRecorder, load_run

REPO = Path(__file__).resolve().parents[1]
WRITERS, ROWS_EACH = 4, 8

WRITER = """
import sys
sys.path.insert(0, {tests!r})
from hilbench.record.store import RunRecorder
from test_record_store import measurement

recorder = RunRecorder.attach({run_dir!r})
for index in range({rows}):
    board = "board-%s" % sys.argv[1]
    recorder.record_board(board, mode="emulated", index=index)
    row = measurement(board="nano33", mode="emulated")
    recorder.append_row(dict(row, board=board, runtime="r%d" % index))
"""


def test_rows_of_parallel_writers_are_neither_lost_nor_duplicated(tmp_path):
    recorder = RunRecorder.start(tmp_path / "results", command_line=["pytest", "-n", "4"])
    script = WRITER.format(tests=str(REPO / "tests"), run_dir=str(recorder.run_dir), rows=ROWS_EACH)
    writers = [subprocess.Popen([sys.executable, "-c", script, str(n)], cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
               for n in range(WRITERS)]
    assert [w.wait(timeout=120) for w in writers] == [0] * WRITERS
    rows = load_run(recorder.run_dir).rows
    keys = sorted((row["board"], row["runtime"]) for row in rows)
    assert keys == sorted((f"board-{n}", f"r{i}") for n in range(WRITERS) for i in range(ROWS_EACH))
    assert {row["run_id"] for row in rows} == {recorder.run_id}
    boards = json.loads((recorder.run_dir / "provenance.json").read_text())["boards"]
    assert {name: facts["index"] for name, facts in boards.items()} == \
        {f"board-{n}": ROWS_EACH - 1 for n in range(WRITERS)}


HOLDER = """
import sys, time
from hilbench.boards import resolve_board
from hilbench.boards.catalog import load_boards
from hilbench.lab.locks import board_lock

board = resolve_board(load_boards({lab!r}).get("nano33"), [])
with board_lock(board):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_hardware_board_is_held_by_one_process_and_the_waiter_names_the_holder(tmp_path):
    device = tmp_path / "ttyACM-test"      # a lab file may name any device path; this one exists
    device.touch()
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"boards:\n  nano33:\n    connection: {{port: {device}}}\n")
    board = resolve_board(load_boards(lab).get("nano33"), [])
    assert board.mode == "hardware" and board.port == str(device)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(lab=str(lab))], cwd=REPO,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(DeployError) as error:
            with board_lock(board, timeout_s=0.6):
                pass
        assert 0.5 < time.monotonic() - started < 5      # a bounded wait
        assert f"board 'nano33' on {device} is in use by pid {holder.pid}" in str(error.value)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with board_lock(board, timeout_s=5):             # the kernel dropped the dead holder's lock
        assert lock_path(str(device)).read_text().startswith(f"pid {os.getpid()} ")
