"""The host deploy backend: a firmware process behind a raw pty, and the common Endpoint."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import termios
import time

import pytest
import serial

from dut_fixtures.helpers import build_stub, exchange, open_raw
from hilbench.deploy import Endpoint, procs
from hilbench.deploy.host import start_host_firmware
from hilbench.errors import DeployError


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    return build_stub(tmp_path_factory)


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it has exited, which is what matters here.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split()[2] == "Z"


def test_endpoint_labels_and_raw_pty(firmware):
    with start_host_firmware(firmware) as endpoint:
        assert (endpoint.mode, endpoint.latency_source) == ("host", "host-clock")
        assert stat.S_ISCHR(os.stat(endpoint.url).st_mode) and endpoint.url.startswith("/dev/pts/")
        assert endpoint.is_alive() and endpoint.pid == endpoint.process.pid
        assert endpoint.command[0] == str(firmware.path)
        fd = os.open(endpoint.url, os.O_RDWR | os.O_NOCTTY)
        try:
            lflag = termios.tcgetattr(fd)[3]
            assert not lflag & (termios.ECHO | termios.ICANON)  # raw, no echo
        finally:
            os.close(fd)
        port = open_raw(endpoint.url)
        try:
            assert exchange(port, "name") == ["m-name-dut-[host]", "m-ready"]
        finally:
            port.close()


def test_close_kills_the_process_and_is_idempotent(firmware):
    endpoint = start_host_firmware(firmware)
    pid = endpoint.pid
    endpoint.close()
    endpoint.close()
    assert process_gone(pid) and not endpoint.is_alive()
    assert endpoint.log_path is not None and not endpoint.log_path.exists()


def test_process_is_killed_when_the_with_block_fails(firmware):
    with pytest.raises(RuntimeError):
        with start_host_firmware(firmware) as endpoint:
            pid = endpoint.pid
            raise RuntimeError("a failing test")
    assert process_gone(pid)


def test_process_is_killed_when_the_endpoint_is_dropped(firmware):
    import gc

    endpoint = start_host_firmware(firmware)
    pid = endpoint.pid
    del endpoint
    gc.collect()
    assert process_gone(pid)


def test_the_process_is_tracked_until_closed(firmware):
    """Host firmware is started like an emulator, so atexit and SIGTERM handlers reap it too."""
    with start_host_firmware(firmware) as endpoint:
        assert endpoint.process in procs.live_processes()
        assert os.getpgid(endpoint.pid) == endpoint.pid  # its own group: killing it kills its children
    assert endpoint.process not in procs.live_processes()


def test_process_dies_with_a_killed_parent():
    """A hilbench process killed with SIGKILL runs no cleanup; the kernel still stops the DUT.

    The DUT here ignores its pty closing (real firmware exits on EOF), so only the parent-death
    signal can stop it.
    """
    dut = "import time; print('m-ready', end='\\r\\n', flush=True); time.sleep(60)"
    parent_script = (
        "import os, signal, sys\n"
        "from hilbench.deploy.host import start_host_firmware\n"
        "endpoint = start_host_firmware(sys.executable, args=('-c', sys.argv[1]))\n"
        "print(endpoint.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    parent = subprocess.run([sys.executable, "-c", parent_script, dut], capture_output=True, text=True, timeout=30)
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    pid = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 5.0
    while not process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert process_gone(pid)
    finally:
        if not process_gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_not_an_executable(tmp_path):
    path = tmp_path / "firmware.elf"
    path.write_text("text")
    with pytest.raises(DeployError, match=r"firmware.elf is not an executable file; build it for target 'host'"):
        start_host_firmware(path)


def test_firmware_that_exits_at_start():
    with pytest.raises(DeployError, match=r"exited with code 3; it printed 'nope"):
        start_host_firmware(sys.executable, args=("-c", "import sys; print('nope'); sys.exit(3)"))


def test_firmware_that_never_boots():
    with pytest.raises(DeployError, match=r"printed no m-ready within 0.3 s"):
        start_host_firmware(sys.executable, args=("-c", "import time; time.sleep(30)"), boot_timeout=0.3)


def test_firmware_for_another_mode_is_refused(firmware):
    import dataclasses

    board_firmware = dataclasses.replace(firmware, recipe=dataclasses.replace(firmware.recipe, mode="emulated"))
    with pytest.raises(DeployError, match="runs in mode 'emulated', not on this host"):
        start_host_firmware(board_firmware)


def test_endpoint_validates_labels():
    with pytest.raises(DeployError, match="latency_source 'wallclock'"):
        Endpoint(url="socket://localhost:1", mode="emulated", latency_source="wallclock")
    endpoint = Endpoint(url="socket://localhost:1", mode="emulated", latency_source="icount")
    endpoint.close()  # nothing started: close is a no-op


def test_a_session_can_reopen_the_port(firmware):
    """The endpoint keeps the pty alive between sessions (e.g. build once, run several tests)."""
    with start_host_firmware(firmware) as endpoint:
        for _ in range(2):
            port = serial.serial_for_url(endpoint.url, timeout=0.05)
            assert exchange(port, "name") == ["m-name-dut-[host]", "m-ready"]
            port.close()
