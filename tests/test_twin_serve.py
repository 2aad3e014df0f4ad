"""`hilbench twin serve`: a real QEMU twin served as a pty and a socket:// URL, driven by
pyserial from outside, then stopped with Ctrl-C or SIGTERM with nothing left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hilbench.session import DutSession

pytestmark = pytest.mark.emulator

REPO = Path(__file__).resolve().parent.parent
BOARD = "nucleo-l4r5zi"   # twin: mps2-an386, Cortex-M4
MODEL = "ad"              # the zoo's smallest model: 0.5 M instructions per inference


def _default_sigint() -> None:
    # A shell that starts jobs in the background starts them with SIGINT ignored; the served
    # twin must see Ctrl-C as a user's terminal would send it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_serve(*options: str, model: str = MODEL) -> tuple[subprocess.Popen, dict[str, str]]:
    """Starts 'hilbench twin serve' and reads its facts up to 'ready'."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "hilbench.cli", "twin", "serve", "--board", BOARD, "--model", model,
         *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_default_sigint)
    facts: dict[str, str] = {}
    deadline = time.monotonic() + 240  # a cold build cache compiles the firmware first
    for line in process.stdout:
        line = line.strip()
        if line == "ready":
            return process, facts
        key, _, value = line.partition(": ")
        facts[key] = value
        if time.monotonic() > deadline:
            break
    process.kill()
    raise AssertionError(f"twin serve printed no 'ready': {facts}, stderr: {process.stderr.read()}")


def stop(process: subprocess.Popen, signum: int) -> str:
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, err
    return out


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0): look at its state.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def run_one(url: str, vector: bytes) -> tuple[str, tuple[float, ...], bytes]:
    with DutSession(url) as session:
        session.sync()
        caps = session.profile()
        session.load_input(vector)
        session.infer(1, 0)
        return caps.model, session.results(), session.raw_output()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_twin_serve_gives_a_pty_and_a_url_and_leaves_nothing_behind(signum):
    process, facts = start_serve()
    try:
        assert facts["board"] == BOARD and facts["realtime"] == "no" and facts["firmware"] == "hilbench"
        assert facts["pty"].startswith("/dev/pts/") and Path(facts["pty"]).exists()
        assert facts["url"].startswith("socket://127.0.0.1:")
        qemu_pid = int(facts["qemu_pid"])
        assert not gone(qemu_pid)

        input_bytes = 640  # ad: 1 x 640 int8
        vector = np.random.default_rng(3).integers(-128, 128, input_bytes, dtype=np.int8).tobytes()
        # The same DUT answers on both, in turns; the pty again after a TCP client has left.
        by_pty = run_one(facts["pty"], vector)
        # A connection that is still open (a probe, a tool that went away) gives the line to
        # the next client instead of locking it out.
        host, port = facts["url"][len("socket://"):].rsplit(":", 1)
        with socket.create_connection((host, int(port))) as stale:
            by_url = run_one(facts["url"], vector)
            stale.settimeout(5)
            assert stale.recv(100) == b""   # disconnected by the hub
        again = run_one(facts["pty"], vector)
        assert by_pty == by_url == again
        assert by_pty[0] == MODEL and len(by_pty[2]) == input_bytes
    finally:
        out = stop(process, signum)
    assert out.strip().endswith("stopped")
    assert gone(qemu_pid)


def test_realtime_twin_keeps_virtual_time_behind_the_wall_clock():
    process, facts = start_serve("--realtime")
    try:
        assert facts["realtime"] == "yes"
        # Paced at about the board's speed (2^4 ns per instruction for 120 MHz at cpi ~1.5),
        # not at the 2^7 ns of the figures' twins.
        from hilbench.boards import resolve_boards
        from hilbench.twin_serve import realtime_icount_shift

        [board] = resolve_boards([BOARD], emulate=True)
        assert facts["icount_shift"] == str(realtime_icount_shift(board)) != "7"
        with DutSession(facts["url"]) as session:
            session.sync()
            session.load_input(bytes(640))
            started = time.monotonic()
            result = session.infer(100, 0)   # about 0.8 s of virtual time
            wall_s = time.monotonic() - started
        virtual_s = result.window_us / 1e6
        assert virtual_s > 0.5
        # Paced: the DUT's own timer never runs ahead of the wall clock.
        assert wall_s >= virtual_s * 0.98, (wall_s, virtual_s)
    finally:
        stop(process, signal.SIGTERM)


def test_twin_serve_refuses_a_board_that_is_not_in_the_catalog():
    completed = subprocess.run(
        [sys.executable, "-m", "hilbench.cli", "twin", "serve", "--board", "nano34", "--model", MODEL],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert completed.returncode == 2
    assert "nano34" in completed.stderr and "Traceback" not in completed.stderr


# A client that loads an input, starts a binary bulk load and dies with most of its bytes
# still to send: the firmware would take the next client's commands for the missing bytes.
HALF_A_LOAD = r"""
import socket, sys
line = socket.create_connection((sys.argv[1], int(sys.argv[2])))

def until(marker):
    data = b""
    while marker not in data:
        data += line.recv(4096)

line.sendall(b"db load 640%"); until(b"m-ready")
line.sendall(b"db 0a0b0c0d%"); until(b"m-ready")
line.sendall(b"hb bulk 640 00000000%"); until(b"m-hb-bulk-ready")
line.sendall(bytes(100))
print("half sent", flush=True)
sys.stdin.read()   # killed here
"""


def read_line(stream, timeout_s: float) -> str:
    import select

    ready, _, _ = select.select([stream], [], [], timeout_s)
    assert ready, f"no line within {timeout_s} s"
    return stream.readline().strip()


def test_a_client_killed_mid_command_leaves_the_next_client_a_fresh_twin():
    """The hub restarts the twin when a client that wrote to it leaves: the next client's
    first command gets its own reply and nothing stale, its outputs equal a fresh twin's, and
    no QEMU is left behind."""
    process, facts = start_serve()
    vector = np.random.default_rng(5).integers(-128, 128, 640, dtype=np.int8).tobytes()
    pids = [int(facts["qemu_pid"])]
    try:
        fresh = run_one(facts["url"], vector)
        pids.append(int(read_line(process.stdout, 60).removeprefix("restarted: qemu_pid: ")))

        host, port = facts["url"][len("socket://"):].rsplit(":", 1)
        dirty = subprocess.Popen([sys.executable, "-c", HALF_A_LOAD, host, port],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert read_line(dirty.stdout, 60) == "half sent"
        finally:
            dirty.kill()
            dirty.wait()
        pids.append(int(read_line(process.stdout, 60).removeprefix("restarted: qemu_pid: ")))
        assert gone(pids[0]) and gone(pids[1]) and not gone(pids[2])

        with socket.create_connection((host, int(port))) as line:
            line.settimeout(10)
            line.sendall(b"name%")
            reply = b""
            while not reply.endswith(b"m-ready\r\n"):
                reply += line.recv(4096)
        assert reply.decode().splitlines()[0].startswith("m-name-dut-[")
        assert len(reply.decode().splitlines()) == 2, reply   # its own reply, nothing stale
        assert run_one(facts["url"], vector) == fresh
    finally:
        out = stop(process, signal.SIGTERM)
    pids += [int(line.removeprefix("restarted: qemu_pid: ")) for line in out.splitlines()
             if line.startswith("restarted: ")]
    assert all(gone(pid) for pid in pids), pids


def test_a_restarted_twin_dies_with_a_killed_serve():
    """The restarted QEMU is started from the hub's thread; when the serve process is killed
    (SIGKILL: no handler runs), the kernel must still take that QEMU down with it."""
    process, facts = start_serve()
    try:
        run_one(facts["url"], bytes(640))
        restarted = int(read_line(process.stdout, 60).removeprefix("restarted: qemu_pid: "))
        assert not gone(restarted)
    finally:
        process.kill()
        process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while not gone(restarted) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(restarted) and gone(int(facts["qemu_pid"]))
