"""Child processes (emulators, host firmware) that must never outlive hilbench.

Every process started through :func:`spawn` gets its own process group, so that killing it
also kills anything it started, and is remembered until :func:`terminate` has reaped it. The
remembered processes are killed:

- by ``terminate()`` (an Endpoint's ``close()``),
- at interpreter exit (``atexit``), which also covers Ctrl-C (KeyboardInterrupt unwinds to it),
- on SIGTERM and SIGHUP (a handler reaps them, then lets the signal do what it did before),
- when the Python process dies without running any of that (SIGKILL, a crash): on Linux the
  child gets SIGKILL from the kernel when its parent thread exits (PR_SET_PDEATHSIG),
- and by :func:`reap_all`, which the pytest plugin calls at session end.

Other things that must not outlive the process (a labgrid place it holds) register a callback
with :func:`on_exit`: it runs at exit, on SIGTERM and SIGHUP, like the reaping.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Sequence

from hilbench.errors import DeployError

# Seconds a process gets to exit after SIGTERM before it is killed with SIGKILL.
TERMINATE_GRACE_S = 2.0

_PR_SET_PDEATHSIG = 1

_lock = threading.RLock()
_live: dict[int, subprocess.Popen] = {}
_this_thread = threading.local()
_exit_callbacks: list = []
_handlers_installed = False


def tie_children_to_this_thread() -> None:
    """Processes spawned from the calling thread from now on get the death signal, as those of
    the main thread do: for a thread that lives as long as what it starts (a served twin's
    hub, which restarts the twin), so that they die with the process even on SIGKILL."""
    _this_thread.ties_children = True


def spawn(
    argv: Sequence[str],
    *,
    stdin: int | IO | None = subprocess.DEVNULL,
    stdout: int | IO | None = None,
    stderr: int | IO | None = None,
    cwd: str | os.PathLike | None = None,
) -> subprocess.Popen:
    """Starts argv in a new process group and remembers it until it is terminated.

    Raises OSError (e.g. FileNotFoundError) as subprocess.Popen does; callers turn it into a
    DeployError that names the program.
    """
    _install_handlers()
    tie_to_parent = sys.platform.startswith("linux") and (
        threading.current_thread() is threading.main_thread()
        or getattr(_this_thread, "ties_children", False))
    process = subprocess.Popen(
        list(argv),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        start_new_session=True,
        # Only from the main thread (or one tied by tie_children_to_this_thread): the death
        # signal fires when the *thread* that forked exits, which would kill an emulator
        # started from a short-lived worker thread.
        preexec_fn=_die_with_parent if tie_to_parent else None,
    )
    with _lock:
        _live[process.pid] = process
    return process


def spawn_emulator(argv: Sequence[str], work_dir: Path, log_name: str, *,
                   stdin: int | IO | None = subprocess.DEVNULL) -> tuple[subprocess.Popen, Path]:
    """Starts an emulator (QEMU, Renode) in its own working folder ``work_dir``, with stdout and
    stderr into ``work_dir/log_name``; returns the process and the log's path.

    When it cannot start, ``work_dir`` is removed and a DeployError names the program and the
    whole command line.
    """
    log_path = work_dir / log_name
    try:
        with log_path.open("wb") as log_file:  # the emulator has its own copy once started
            return spawn(argv, stdin=stdin, stdout=log_file, stderr=subprocess.STDOUT, cwd=work_dir), log_path
    except OSError as exc:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise DeployError(f"cannot start {argv[0]}: {exc}\ncommand: {' '.join(map(str, argv))}") from exc


def terminate(process: subprocess.Popen, grace_s: float = TERMINATE_GRACE_S) -> int | None:
    """Kills the process group of process (SIGTERM, then SIGKILL) and reaps it.

    Safe to call more than once and on a process that already exited. Returns its exit code.
    """
    try:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=grace_s)
        else:
            # The leader exited; anything it left in its group goes too.
            _signal_group(process, signal.SIGKILL)
    finally:
        with _lock:
            _live.pop(process.pid, None)
    return process.returncode


def live_processes() -> list[subprocess.Popen]:
    """The processes started by spawn() that have not been terminated yet."""
    with _lock:
        return list(_live.values())


def on_exit(callback) -> None:
    """Run ``callback()`` once at exit or on SIGTERM/SIGHUP, after the processes are reaped."""
    _install_handlers()
    with _lock:
        if callback not in _exit_callbacks:
            _exit_callbacks.append(callback)


def reap_all() -> list[int]:
    """Terminates every remembered process and runs the on_exit callbacks; returns the pids.
    For atexit, the signal handlers and pytest hooks."""
    reaped = []
    for process in live_processes():
        terminate(process)
        reaped.append(process.pid)
    with _lock:
        callbacks = list(_exit_callbacks)
        _exit_callbacks.clear()
    for callback in callbacks:
        callback()
    return reaped


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)  # the pid is the group id: start_new_session=True
    except ProcessLookupError:
        pass
    except PermissionError:
        # The group id was reused by someone else's process: only signal our own child.
        if process.poll() is None:
            process.send_signal(signum)


def _die_with_parent() -> None:
    """Runs in the child between fork and exec."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not fatal: atexit and the signal handlers still clean up


def _install_handlers() -> None:
    global _handlers_installed
    with _lock:
        if _handlers_installed:
            return
        _handlers_installed = True
    atexit.register(reap_all)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; atexit still applies
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN:
            continue
        signal.signal(signum, _make_reaping_handler(signum, previous))


def _make_reaping_handler(signum: int, previous):
    def handler(received: int, frame) -> None:
        reap_all()
        if callable(previous):
            previous(received, frame)
        else:
            # Default action (terminate): restore it and re-deliver, so the exit status still
            # says "killed by SIGTERM" to whoever started us.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    return handler
