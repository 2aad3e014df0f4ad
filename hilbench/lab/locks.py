"""One process at a time per physical board, when no labgrid coordinator arbitrates.

Two pytest-xdist workers, or two people's runs on one lab machine, must never flash or talk
to the same board at once. A board on a labgrid place is guarded by the coordinator; any
other hardware board is guarded by an exclusive lock on a file named after its serial line,
in a folder shared by every process of this machine. The holder writes its pid and command
line into the file, so whoever waits can say who holds the board.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from hilbench.errors import DeployError

if TYPE_CHECKING:
    from hilbench.boards import ResolvedBoard

LOCK_TIMEOUT_ENV = "HILBENCH_BOARD_LOCK_TIMEOUT_S"
DEFAULT_LOCK_TIMEOUT_S = 600.0
POLL_INTERVAL_S = 0.2


def lock_folder() -> Path:
    """Where board locks live: one folder for every user and process of this machine."""
    folder = Path(tempfile.gettempdir()) / "hilbench-board-locks"
    folder.mkdir(mode=0o1777, exist_ok=True)
    return folder


def lock_path(serial_line: str) -> Path:
    """The lock file of a board reached on ``serial_line`` (a device path or URL)."""
    return lock_folder() / (re.sub(r"[^A-Za-z0-9._-]+", "_", serial_line).strip("_") + ".lock")


def lock_timeout_s() -> float:
    text = os.environ.get(LOCK_TIMEOUT_ENV, "")
    try:
        timeout = float(text) if text else DEFAULT_LOCK_TIMEOUT_S
    except ValueError:
        raise DeployError(f"{LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds") from None
    if not timeout > 0:
        raise DeployError(f"{LOCK_TIMEOUT_ENV}={text!r} must be greater than 0")
    return timeout


@contextlib.contextmanager
def board_lock(board: ResolvedBoard, timeout_s: float | None = None) -> Iterator[None]:
    """Hold the board exclusively for the ``with`` block (hardware boards not on labgrid).

    Waits at most ``timeout_s`` (default: $HILBENCH_BOARD_LOCK_TIMEOUT_S or 600 s) for another
    process to let go, then raises DeployError naming the holder. Other boards need no lock:
    every twin and host process is this process's own.
    """
    if board.mode != "hardware" or board.lab_place is not None or not board.port:
        yield
        return
    timeout_s = lock_timeout_s() if timeout_s is None else timeout_s
    path = lock_path(board.port)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = Path(path).read_text(errors="replace").strip() or "another process"
                    raise DeployError(
                        f"board '{board.name}' on {board.port} is in use by {holder}; waited "
                        f"{timeout_s:g} s ({path}). Wait for that run to end, or raise "
                        f"{LOCK_TIMEOUT_ENV}") from None
                time.sleep(POLL_INTERVAL_S)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"pid {os.getpid()} ({' '.join(sys.argv)[:200]})\n".encode())
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
