"""Host deploy backend: run host-target firmware as a local process behind a pty.

The firmware's stdin and stdout are the pty's master side; the session opens the slave path
(/dev/pts/N) with pyserial exactly as it would open a board's serial port. The slave is put in
raw mode without echo before the firmware starts, so no byte is translated or echoed back.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
import tty
from pathlib import Path

from hilbench.build import Firmware
from hilbench.deploy import Endpoint, procs
from hilbench.errors import DeployError


def _read_boot_banner(slave: int, process: subprocess.Popen, timeout: float) -> list[str]:
    """Reads the firmware's boot banner up to m-ready from the pty, proving that it runs.

    (A session opening the port would miss it anyway: pyserial flushes input on open.)
    """
    received = b""
    deadline = time.monotonic() + timeout
    while b"m-ready\r\n" not in received:
        remaining = deadline - time.monotonic()
        if process.poll() is not None or remaining <= 0:
            received += _pending_output(slave)  # a firmware that exited may have said why just before
            state = f"exited with code {process.returncode}" if process.poll() is not None else f"printed no m-ready within {timeout:.1f} s"
            raise DeployError(
                f"host firmware {process.args[0]} {state}; it printed {received.decode(errors='replace')!r}"
            )
        ready, _, _ = select.select([slave], [], [], min(remaining, 0.05))
        if ready:
            received += os.read(slave, 4096)
    return [line.strip() for line in received.decode("ascii", errors="replace").splitlines() if line.strip()]


def _pending_output(slave: int) -> bytes:
    """What the pty still holds for the host, without waiting for more."""
    pending = b""
    while select.select([slave], [], [], 0)[0]:
        try:
            chunk = os.read(slave, 4096)
        except OSError:  # the other side is closed and nothing is left
            break
        if not chunk:
            break
        pending += chunk
    return pending


def start_host_firmware(
    firmware: Firmware | os.PathLike | str, *, args: tuple[str, ...] = (), boot_timeout: float = 5.0
) -> Endpoint:
    """Starts host-target firmware on a fresh pty; returns an Endpoint with mode='host'.

    firmware is a Firmware built for the 'host' target, or a path to such an executable.
    The returned Endpoint's url is the pty slave path; its boot_lines hold the boot banner,
    which was read to make sure the firmware runs (DeployError if it exits or stays silent). Use it as a context manager or call
    close(): the process is always killed, also when a test fails.
    """
    if isinstance(firmware, Firmware):
        if firmware.mode != "host":
            raise DeployError(
                f"firmware for target '{firmware.target}' runs in mode '{firmware.mode}', "
                "not on this host; deploy it with its own backend"
            )
        executable = firmware.path
    else:
        executable = Path(firmware)
    if not executable.is_file() or not os.access(executable, os.X_OK):
        raise DeployError(f"host firmware {executable} is not an executable file; build it for target 'host' first")

    master, slave = os.openpty()
    tty.setraw(slave)  # raw, no echo: the DUT's replies must not be echoed back into its input
    slave_path = os.ttyname(slave)
    log_file = tempfile.NamedTemporaryFile(prefix="hilbench-host-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    command = (str(executable), *args)
    try:
        process = procs.spawn(command, stdin=master, stdout=master, stderr=log_file)
    except OSError as exc:
        for fd in (master, slave):
            os.close(fd)
        log_file.close()
        log_path.unlink(missing_ok=True)
        raise DeployError(f"cannot start host firmware {executable}: {exc}") from exc
    finally:
        log_file.close()
    # The child has its own copy of the master. Our slave stays open while the endpoint lives, so
    # the pty never hangs up between sessions.
    os.close(master)

    try:
        boot_lines = _read_boot_banner(slave, process, boot_timeout)
    except DeployError:
        procs.terminate(process)
        os.close(slave)
        log_path.unlink(missing_ok=True)
        raise

    return Endpoint(
        url=slave_path,
        mode="host",
        latency_source="host-clock",
        process=process,
        command=command,
        description=f"host process {executable.name} on {slave_path}",
        log_path=log_path,
        boot_lines=boot_lines,
        cleanups=[lambda: log_path.unlink(missing_ok=True), lambda: os.close(slave)],
    )


__all__ = ["start_host_firmware"]
