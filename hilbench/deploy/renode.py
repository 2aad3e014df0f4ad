"""Emulated twins in Renode, for boards whose Renode platform models more than QEMU does.

Renode is not a Debian package; users who have it installed (https://renode.io) can run a
board's own firmware on its Renode platform, e.g. nano33 on
``platforms/boards/arduino_nano_33_ble.repl``. We generate a .resc script that creates the
machine, loads the platform and the ELF, and exposes the board's UART as a raw TCP server; the
session then talks to ``socket://127.0.0.1:PORT`` exactly as to a QEMU twin.

Renode's virtual time advances with executed instructions (the CPU's PerformanceInMips), not
with the host clock, so its figures are labelled mode=emulated, latency_source=icount.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hilbench.deploy import Endpoint, procs, tcp_uart
from hilbench.errors import DeployError

RENODE_BINARY = "renode"
RENODE_INSTALL_HINT = "install Renode from https://renode.io (or its portable Linux package) and put 'renode' on PATH"
# Renode runs on .NET/Mono and takes seconds to start.
BOOT_TIMEOUT_S = 90.0
TERMINAL_NAME = "hilbench_uart"
READY_LINE = "m-ready"

# Renode parses '@path' up to whitespace and has no escape for quotes inside a path.
_UNSAFE_PATH = re.compile(r"[\s\"';]")


@dataclass(frozen=True)
class RenodePlatform:
    """Where a board lives in Renode: its platform file and the UART the DUT talks on.

    repl: a path inside Renode's tree (platforms/boards/arduino_nano_33_ble.repl) or an
    absolute path to a .repl of our own. uart: the peripheral's name on the system bus.
    """

    repl: str
    uart: str = "sysbus.uart0"
    machine_name: str = "hilbench"


def renode_script(elf: str | os.PathLike, platform: RenodePlatform, port: int) -> str:
    """The .resc that builds the machine, loads the firmware and serves its UART on port.

    It does not start the machine: start_renode connects to the UART first, then sends
    'start', so that no boot output is lost.
    """
    elf_text = _renode_path(Path(elf), "firmware ELF")
    repl = platform.repl
    if os.path.isabs(repl):
        repl = _renode_path(Path(repl), "Renode platform")
    elif _UNSAFE_PATH.search(repl):
        raise DeployError(f"Renode platform path {repl!r} contains whitespace or quotes, which Renode cannot parse")
    if not 1 <= port <= 65535:
        raise DeployError(f"TCP port {port} is out of range")
    return "\n".join(
        [
            f'mach create "{platform.machine_name}"',
            f"machine LoadPlatformDescription @{repl}",
            f"sysbus LoadELF @{elf_text}",
            # Raw TCP server for the UART; 'false': no telnet negotiation bytes in the stream.
            f'emulation CreateServerSocketTerminal {port} "{TERMINAL_NAME}" false',
            f"connector Connect {platform.uart} {TERMINAL_NAME}",
            # When the core sleeps (WFI) let virtual time jump ahead instead of waiting for the host.
            "emulation SetAdvanceImmediately true",
            "",
        ]
    )


def renode_command(script: str | os.PathLike, renode_binary: str = RENODE_BINARY) -> list[str]:
    """The renode command line: headless, monitor on the console (our stdin), script included."""
    return [renode_binary, "--disable-xwt", "--console", "--plain", "-e", f"include @{_renode_path(Path(script), 'script')}"]


def start_renode(
    elf: str | os.PathLike,
    platform: RenodePlatform,
    *,
    boot_timeout_s: float = BOOT_TIMEOUT_S,
    renode_binary: str = RENODE_BINARY,
) -> Endpoint:
    """Runs elf on a Renode platform and waits for the firmware's m-ready.

    Raises DeployError when renode is not installed, exits, or no m-ready arrives in time,
    with the command line, exit code and last output. Renode never outlives the endpoint.
    """
    elf = Path(elf)
    if not elf.is_file():
        raise DeployError(f"firmware image {elf} does not exist; build the firmware first")
    binary = shutil.which(renode_binary)
    if binary is None:
        raise DeployError(f"'{renode_binary}' is not on PATH; {RENODE_INSTALL_HINT}")

    port = tcp_uart.free_port()
    work_dir = Path(tempfile.mkdtemp(prefix="hilbench-renode-"))
    script = work_dir / "hilbench.resc"
    script.write_text(renode_script(elf, platform, port))
    command = renode_command(script, binary)
    process, log_path = procs.spawn_emulator(command, work_dir, "renode.log", stdin=subprocess.PIPE)
    endpoint = Endpoint(
        url=tcp_uart.socket_url(port),
        mode="emulated",
        latency_source="icount",
        process=process,
        command=tuple(command),
        description=f"Renode {platform.repl} running {elf.name}, {platform.uart} on 127.0.0.1:{port}",
        log_path=log_path,
        cleanups=[lambda: shutil.rmtree(work_dir, ignore_errors=True), process.stdin.close],
    )
    try:
        _connect_start_and_wait(endpoint, port, boot_timeout_s)
    except BaseException:
        endpoint.close()
        raise
    return endpoint


def _renode_path(path: Path, what: str) -> str:
    text = str(path.resolve())
    if _UNSAFE_PATH.search(text):
        raise DeployError(
            f"{what} path {text!r} contains whitespace or quotes, which Renode's '@path' syntax cannot "
            "express; move it to a path without them"
        )
    return text


def _report(endpoint: Endpoint, headline: str, uart_text: str) -> str:
    code = endpoint.process.poll()
    status = "Renode is still running (it will be stopped)" if code is None else f"Renode exit code: {code}"
    uart_lines = uart_text.strip().splitlines()[-15:]
    return "\n".join(
        [
            headline,
            status,
            f"command: {' '.join(endpoint.command)}",
            "Renode output (last lines):\n" + (endpoint.log_tail(2000).strip() or "(none)"),
            "firmware UART (last lines):\n" + ("\n".join(uart_lines) or "(none)"),
        ]
    )


def _connect_start_and_wait(endpoint: Endpoint, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    connection = tcp_uart.connect_when_listening(
        endpoint,
        port,
        deadline,
        attempt_timeout_s=0.5,
        retry_interval_s=0.1,
        exited=lambda: DeployError(_report(endpoint, "Renode exited during start-up", "")),
        timed_out=lambda: DeployError(
            _report(endpoint, f"Renode did not open the UART port {port} in {timeout_s:g} s", "")
        ),
    )
    received = b""
    with connection:
        # The machine runs only now, so its boot banner reaches us whole.
        endpoint.process.stdin.write(b"start\n")
        endpoint.process.stdin.flush()
        connection.settimeout(0.2)
        while True:
            try:
                chunk = connection.recv(4096)
            except socket.timeout:
                chunk = None
            if chunk == b"":
                raise DeployError(_report(endpoint, "Renode closed the UART during boot", received.decode(errors="replace")))
            if chunk:
                received += chunk
                lines = [line.strip() for line in received.decode(errors="replace").splitlines()]
                if READY_LINE in lines:
                    endpoint.boot_lines[:] = [line for line in lines if line]
                    return
            if not endpoint.is_alive():
                raise DeployError(_report(endpoint, "Renode exited during boot", received.decode(errors="replace")))
            if time.monotonic() > deadline:
                raise DeployError(
                    _report(endpoint, f"no '{READY_LINE}' from the firmware within {timeout_s:g} s of starting Renode",
                            received.decode(errors="replace"))
                )
