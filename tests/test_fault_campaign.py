"""The benchmark through a faulty line: a twin behind tests/dut_fixtures/fault_proxy.py.

Each case measures the zoo's smallest model (gesture, 2 vectors) on nucleo-l4r5zi's twin
through the proxy, which flips bits in one kind of reply line (or in all of them at 1e-3),
cuts the line in the middle of an 'infer', or stalls it. The run folder already holds a
finished row (nano33's twin, measured cleanly). A case passes when:
- the measurement ends in a clear error (one line, a HilbenchError), or in a row whose every
  figure equals the clean measurement's (icount makes them deterministic): no wrong number;
- the finished row and its raw/, figures/ and serial/ files are still there: no row lost;
- no emulator is left running: no stray process.
Run with -s to see the tally of the cases (the README's table of fault tests comes from it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dut_fixtures.fault_proxy import FaultProxy
from hilbench.bench import Dut, compiled_model_dir, find_model, runtime_label
from hilbench.boards import resolve_boards
from hilbench.build import build_firmware
from hilbench.compile import compile_model
from hilbench.deploy.qemu import start_firmware
from hilbench.errors import HilbenchError
from hilbench.procedure import BenchmarkOptions, benchmark_dut
from hilbench.record.store import RunRecorder, load_run
from hilbench.session import DutSession

pytestmark = [pytest.mark.emulator]

MODEL = "gesture"
OPTIONS = BenchmarkOptions(max_vectors=2, round_trips=1)
# Short limits: a twin answers in milliseconds, and a stalled line must not hold the suite.
# Everything over the serial line, as on a real board (no twin-only host-file channel).
SESSION_OPTIONS = {"timeout": 0.5, "inference_timeout": 0.5, "retries": 2, "host_file_dir": None}
# Columns that differ between two measurements of the same thing by design.
PER_RUN_COLUMNS = {"run_id", "timestamp"}

REPLY_KINDS = {
    "profile": ("m-profile", "m-model", "m-hb-caps", "m-hb-timer", "m-hb-model"),
    "name": ("m-name",),
    "load": ("m-hb-bulk-ready", "m-load-done"),
    "infer markers": ("m-warmup", "m-infer"),
    "lap stamps": ("m-lap-us",),
    "results": ("m-results",),
    "raw output": ("m-hb-raw",),
    "ticks": ("m-hb-ticks",),
    "m-ready": ("m-ready",),
}
CASES = {
    **{f"flip 1e-2 in {kind}": {"flip_rate": 1e-2, "flip_prefixes": prefixes, "seed": 1}
       for kind, prefixes in REPLY_KINDS.items()},
    # A changed digit still reads as a number: only the ticks' CRC-32 tells it from a slow inference.
    "a digit changed in tick counts": {"digit_rate": 0.5, "flip_prefixes": ("m-hb-ticks-[",), "seed": 1},
    **{f"flip 1e-3 in every line, seed {seed}": {"flip_rate": 1e-3, "seed": seed} for seed in (1, 2, 3)},
    "cut mid-infer": {"cut_on": "infer", "cut_after": 3},
    "stall mid-run": {"stall_on": "infer", "stall_after": 2},
}

TALLY = {"cases": 0, "clear errors": 0, "correct rows": 0, "wrong results": 0, "rows lost": 0,
         "stray processes": 0}


@pytest.fixture(scope="module", autouse=True)
def tally():
    """Prints the tally of the cases that ran (the README's table of fault tests), with -s."""
    yield TALLY
    print("\n| cases | clear errors | correct rows | wrong results | rows lost | stray processes |")
    print("|---|---|---|---|---|---|")
    print("| " + " | ".join(str(TALLY[key]) for key in TALLY) + " |")


@pytest.fixture(scope="module")
def firmware():
    model_path = find_model(MODEL)
    compiled = compile_model(model_path, compiled_model_dir(model_path, "auto"), kernels="auto")
    boards = {board.name: board for board in resolve_boards(["nano33", "nucleo-l4r5zi"], emulate=True)}
    return model_path, compiled, boards


def measure(firmware, board_name: str, **faults):
    """benchmark_dut on the board's twin through a FaultProxy; returns (result or error, proxy)."""
    model_path, compiled, boards = firmware
    board = boards[board_name]
    built = build_firmware(board.firmware_target, compiled)
    with start_firmware(built) as endpoint, FaultProxy(endpoint.url, **faults) as proxy:
        endpoint.url = proxy.url  # the session talks to the twin through the proxy
        try:
            with DutSession.from_endpoint(endpoint, **SESSION_OPTIONS) as session:
                session.sync()
                session.profile()
                dut = Dut(board, model_path, compiled, built, endpoint, session,
                          runtime=runtime_label("auto", board.board.core))
                return benchmark_dut(dut, OPTIONS), proxy, session.log_lines()
        except HilbenchError as error:
            return error, proxy, []


def record(recorder: RunRecorder, result, serial_lines) -> None:
    """What the plugin does with a finished measurement: the row, then its files."""
    row = recorder.append_row(result.row)
    labels = {"runtime": row["runtime"], "mode": row["mode"]}
    recorder.write_raw(row["board"], row["model"], result.raw, **labels)
    recorder.write_figures(row["board"], row["model"], result.figures, **labels)
    recorder.save_serial_log(row["board"], serial_lines, model=row["model"])


@pytest.fixture(scope="module")
def clean(firmware):
    """The finished row every case starts from, and the clean figures each case is held to."""
    finished, _, finished_log = measure(firmware, "nano33")
    reference, _, _ = measure(firmware, "nucleo-l4r5zi")
    assert not isinstance(finished, Exception) and not isinstance(reference, Exception)
    return (finished, finished_log), reference


def emulators_left() -> list[int]:
    """Child processes of this test process that are QEMU."""
    children = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if entry.name.isdigit() and int(fields[1]) == os.getpid() and \
                    "qemu" in (entry / "comm").read_text():
                children.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return children


@pytest.mark.parametrize("case", list(CASES))
def test_fault_gives_an_error_or_the_right_figures_and_loses_no_row(tmp_path, firmware, clean, case):
    (finished, finished_log), reference = clean
    recorder = RunRecorder.start(tmp_path, command_line=["fault campaign", case])
    record(recorder, finished, finished_log)

    outcome, proxy, serial_lines = measure(firmware, "nucleo-l4r5zi", **CASES[case])
    assert proxy.flipped_bits or proxy.cut or proxy.stalled, f"the fault of case '{case}' never happened"
    TALLY["cases"] += 1
    if isinstance(outcome, HilbenchError):
        assert "\n" not in str(outcome), outcome
        TALLY["clear errors"] += 1
    else:
        record(recorder, outcome, serial_lines)
        stored = {k: v for k, v in recorder.rows[-1].items() if k not in PER_RUN_COLUMNS}
        expected = {k: v for k, v in reference.row.items() if k not in PER_RUN_COLUMNS}
        wrong = {k: (stored.get(k), v) for k, v in expected.items() if stored.get(k) != v}
        TALLY["wrong results" if wrong else "correct rows"] += 1
        assert not wrong, f"{case}: recorded figures differ from the clean run's: {wrong}"

    rows = load_run(recorder.run_dir).rows
    kept = [row for row in rows if row["board"] == "nano33"]
    row_files = ("raw/nano33__gesture__{runtime}__emulated.npz", "figures/nano33__gesture__{runtime}__emulated.json",
                 "serial/nano33__gesture.log")
    files_kept = all((recorder.run_dir / name.format(runtime=finished.row["runtime"])).is_file()
                     for name in row_files)
    if len(kept) != 1 or not files_kept:
        TALLY["rows lost"] += 1
    assert len(kept) == 1 and files_kept
    # Every row has its files, and every file has its row.
    assert len(list((recorder.run_dir / "raw").iterdir())) == len(rows)

    stray = emulators_left()
    TALLY["stray processes"] += len(stray)
    assert not stray and not any(t.name == "fault-proxy" for t in threading.enumerate())


