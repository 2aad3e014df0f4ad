"""The progress line of the reference suite: shown on a terminal, gone from pytest's output.

The suite runs for real (host board, the zoo's ad model) in a pytest process whose output is
a pseudo-terminal, as in a user's shell. What the terminal finally shows is worked out from
the bytes with a small screen model (carriage returns, cursor moves), and compared with what
pytest prints when nothing else writes.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from hilbench.progress import CI_VARIABLES, Phases, wants_progress

ROOT = Path(__file__).resolve().parents[1]
SUITE = ["-m", "pytest", "hilbench/suite", "-p", "no:cacheprovider", "--board=host", "--model=ad",
         "--vectors=30"]
PROGRESS_TEXT = "host ad vectors: "
COLUMNS = 160


def outside_ci() -> dict[str, str]:
    """This process's environment without the variables that say it runs under CI."""
    return {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}


def run_in_terminal(args: list[str], tmp_path: Path, **env: str) -> str:
    """Runs python with args, its stdin/stdout/stderr a pseudo-terminal; returns what it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
    environment = outside_ci()
    environment.update(env)
    process = subprocess.Popen([sys.executable, *args, "--results-dir", str(tmp_path / "results")],
                               stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=environment)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(master)
    assert process.returncode == 0, output.decode(errors="replace")[-3000:]
    return output.decode(errors="replace")


def screen(text: str) -> list[str]:
    """The lines a terminal shows after text: carriage return, newline, cursor up and right,
    erase to the end of the line; colours and other escape sequences are dropped."""
    lines, row, column = [[]], 0, 0
    for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|.", text, flags=re.S):
        if token == "\r":
            column = 0
        elif token == "\n":
            row += 1
            lines += [[] for _ in range(row + 1 - len(lines))]
        elif token.startswith("\x1b["):
            count = int(token[2:-1] or 1) if token[2:-1].isdigit() else 1
            if token[-1] == "A":
                row = max(0, row - count)
            elif token[-1] == "C":
                column += count
            elif token[-1] == "K":
                del lines[row][column:]
        else:
            line = lines[row]
            line += [" "] * (column + 1 - len(line))
            line[column] = token
            column += 1
    return ["".join(line).rstrip() for line in lines]


def pytest_lines(lines: list[str]) -> list[str]:
    """pytest's own lines, up to the hilbench results, with numbers (times) as '#'."""
    end = next(i for i, line in enumerate(lines) if "hilbench results" in line)
    return [re.sub(r"\d+(\.\d+)?", "#", line) for line in lines[:end] if line]


@pytest.mark.slow
def test_the_progress_line_shows_and_leaves_pytests_output_as_it_was(tmp_path):
    shown = run_in_terminal(SUITE, tmp_path)
    assert PROGRESS_TEXT in shown and "/30" in shown  # phase, vectors done of total
    assert re.search(r"host ad vectors: \d+/30 .*<.*vectors/s", shown)  # ETA and rate
    for phase in ("build", "start", "reference", "timing"):
        assert f"host ad {phase}" in shown
    final = screen(shown)
    assert not any("host ad " in line and "[" in line and "vectors" in line for line in final)
    assert any(re.fullmatch(r"hilbench/suite/test_reference_benchmark\.py \.\s+\[100%\]", line)
               for line in final), final

    under_ci = run_in_terminal(SUITE, tmp_path, CI="true")
    assert PROGRESS_TEXT not in under_ci
    # What the terminal shows is what pytest shows when no progress line is drawn at all.
    assert pytest_lines(screen(under_ci)) == pytest_lines(final)


@pytest.mark.slow
def test_no_progress_with_q_or_when_not_a_terminal(tmp_path):
    assert PROGRESS_TEXT not in run_in_terminal([*SUITE, "-q"], tmp_path)
    piped = subprocess.run([sys.executable, *SUITE, "--results-dir", str(tmp_path / "piped")], cwd=ROOT,
                           capture_output=True, text=True, timeout=120,
                           env=outside_ci())
    assert piped.returncode == 0, piped.stdout[-3000:]
    assert PROGRESS_TEXT not in piped.stdout + piped.stderr and "\x1b[A" not in piped.stdout


def test_wants_progress_only_on_a_terminal_outside_ci(monkeypatch):
    for name in CI_VARIABLES:  # this test may itself run under CI
        monkeypatch.delenv(name, raising=False)
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal, open(os.devnull, "w") as not_a_terminal:
        assert wants_progress(terminal)
        assert not wants_progress(terminal, quiet=True)
        assert not wants_progress(not_a_terminal)
        assert not wants_progress(None)
        monkeypatch.setenv("CI", "true")
        assert not wants_progress(terminal)
    os.close(master)


def test_phases_keep_the_time_of_each_phase_and_pass_vectors_on():
    seen = []

    class Sink:
        def phase(self, name, total):
            seen.append((name, total))

        def advance(self, count):
            seen.append(("+", count))

    phases = Phases(Sink())
    phases.start("build")
    time.sleep(0.02)
    phases.start("vectors", total=3)
    phases.advance()
    phases.advance(2)
    phases.start("build")  # a phase that comes back adds up
    phases.stop()
    phases.stop()
    assert seen == [("build", None), ("vectors", 3), ("+", 1), ("+", 2), ("build", None)]
    assert set(phases.seconds) == {"build", "vectors"} and phases.seconds["build"] >= 0.02
