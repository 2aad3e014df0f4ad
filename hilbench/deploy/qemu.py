"""Emulated twins: run Cortex-M firmware in QEMU with deterministic, instruction-counted time.

QEMU runs with ``-icount shift=N,align=off,sleep=off``: the virtual clock advances by exactly
2^N ns per executed instruction, independent of the host's speed and load. The firmware times
an inference with a timer on the system clock (timer_hz ticks per virtual second: a CMSDK
timer, or SysTick on the AN547), so the host turns ticks back into an instruction count with :func:`instructions_from_ticks`:

    instructions = ticks * 1e9 / (timer_hz * 2^N)

With N = 7 (128 ns per instruction) one tick is less than half an instruction on every machine
here (0.3125 at 25 MHz, 0.39 at 20 MHz, 0.24 at 32 MHz), so rounding recovers the exact number of
instructions executed between the two timer reads. The firmware HAL stops the timer while it waits
for the host and restarts it with each received byte (cortex_m_common/hb_hal_cmsdk_uart.c), so
the same firmware and input give the same count on every run. These are QEMU instruction counts, not cycles.

The UART is a TCP server on 127.0.0.1; the returned endpoint's url is ``socket://127.0.0.1:PORT``
for pyserial. No QEMU process outlives its endpoint (see hilbench/deploy/procs.py).

Bulk data can also move through files: QEMU runs with Arm semihosting enabled, in a folder of
its own (endpoint.host_file_dir), where the firmware's ``hb file`` reads an input and
``hb raw file`` writes the outputs (docs/protocol.md). An emulated CMSDK UART moves one byte
per interrupt, some 20-40 KB/s; a file moves a whole tensor at once. Only the channel differs:
the same CRC-32 checks, the same inference on the same bytes.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from hilbench.deploy import Endpoint, procs, tcp_uart
from hilbench.errors import DeployError

QEMU_BINARY = "qemu-system-arm"
QEMU_INSTALL_HINT = "Debian: apt install qemu-system-arm"
# 2^7 ns of virtual time per instruction: see the module docstring for why 7.
ICOUNT_SHIFT = 7
MAX_ICOUNT_SHIFT = 10  # QEMU's own limit
# No emulator executes more guest instructions per second of wall time than this (QEMU does
# about 4e8 here): a twin's device time beyond it is a damaged figure, not a fast host.
MAX_EMULATED_IPS = 1e10
BOOT_TIMEOUT_S = 30.0
READY_LINE = "m-ready"
FATAL_PREFIX = "m-fatal-"
# Lines of emulator and firmware output quoted in error messages.
TAIL_LINES = 15
_PORT_ATTEMPTS = 3


def instructions_per_tick(timer_hz: int, icount_shift: int = ICOUNT_SHIFT) -> Fraction:
    """How many instructions one timer tick stands for under -icount shift=icount_shift (exact)."""
    if timer_hz <= 0:
        raise ValueError(f"timer_hz must be positive, got {timer_hz}")
    if not 0 <= icount_shift <= MAX_ICOUNT_SHIFT:
        raise ValueError(f"icount shift must be 0..{MAX_ICOUNT_SHIFT}, got {icount_shift}")
    return Fraction(10**9, timer_hz * 2**icount_shift)


def instructions_from_ticks(ticks: int, timer_hz: int, icount_shift: int = ICOUNT_SHIFT) -> int:
    """Converts device timer ticks measured under QEMU -icount into an instruction count.

    ticks * 1e9 / (timer_hz * 2^icount_shift), computed exactly and rounded to the nearest
    integer. It is the exact instruction count whenever one tick is less than half an
    instruction (instructions_per_tick() < 1/2); otherwise the result has that resolution.
    """
    if ticks < 0:
        raise ValueError(f"ticks must not be negative, got {ticks}")
    exact = ticks * instructions_per_tick(timer_hz, icount_shift)
    return math.floor(exact + Fraction(1, 2))


def cpu_from_flags(cpu_flags: Sequence[str]) -> str:
    """The QEMU -cpu name from a recipe's compiler flags ('-mcpu=cortex-m4' -> 'cortex-m4')."""
    for flag in cpu_flags:
        if flag.startswith("-mcpu="):
            return flag.split("=", 1)[1].split("+", 1)[0]
    raise DeployError(f"cannot tell the QEMU CPU: no -mcpu= in the recipe's cpu_flags {list(cpu_flags)}")


def qemu_command(
    machine: str,
    cpu: str,
    kernel: str | os.PathLike,
    port: int,
    *,
    icount_shift: int = ICOUNT_SHIFT,
    qemu_binary: str = QEMU_BINARY,
    realtime: bool = False,
) -> list[str]:
    """The QEMU command line: one machine, its UART0 as a TCP server on 127.0.0.1:port.

    realtime: pace virtual time to the wall clock (see :func:`icount_option`).
    """
    if not 0 <= icount_shift <= MAX_ICOUNT_SHIFT:
        raise DeployError(f"icount shift must be 0..{MAX_ICOUNT_SHIFT}, got {icount_shift}")
    return [
        qemu_binary,
        "-machine", machine,
        "-cpu", cpu,
        "-nographic",
        "-monitor", "none",
        "-icount", icount_option(icount_shift, realtime),
        # wait=on: the guest does not start until we are connected, so no boot output is lost.
        # nodelay=on: replies are short lines; Nagle + delayed ACK would add 40 ms to each.
        "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
        # The host-file input channel ('hb file'): semihosting calls read files in QEMU's
        # working folder, which start_qemu makes private to this twin.
        "-semihosting-config", "enable=on,target=native",
        "-kernel", str(kernel),
    ]


def icount_option(icount_shift: int, realtime: bool) -> str:
    """QEMU's -icount value. Virtual time is always instructions x 2^N ns, so instruction
    counts stay exact either way.

    Default: the twin runs as fast as the host can (far faster than the board) and never
    waits for the host clock. realtime: QEMU sleeps whenever virtual time runs ahead of the
    wall clock (align=on), and lets virtual time pass while the guest idles (sleep=on), so a
    window of 10 s on the DUT's timer also lasts 10 s for a tool that watches the wall clock
    (MLPerf Tiny's runner checks its performance window that way).
    """
    return f"shift={icount_shift},align=on,sleep=on" if realtime else f"shift={icount_shift},align=off,sleep=off"


@dataclass(eq=False)
class TwinEndpoint(Endpoint):
    """A twin reached over its serial line, started here or elsewhere (a running twin in the lab
    file, a twin on a labgrid place): icount_shift turns its timer ticks into instructions."""

    icount_shift: int = ICOUNT_SHIFT

    @property
    def max_device_speedup(self) -> float:
        """Virtual seconds per wall-clock second at most: MAX_EMULATED_IPS instructions of
        2^shift ns each (the session refuses a device time beyond it)."""
        return MAX_EMULATED_IPS * 2**self.icount_shift / 1e9

    def instructions_from_ticks(self, ticks: int, timer_hz: int) -> int:
        """Ticks from this twin's timer as an instruction count, at this endpoint's shift."""
        return instructions_from_ticks(ticks, timer_hz, self.icount_shift)


@dataclass(eq=False)
class QemuEndpoint(TwinEndpoint):
    """A QEMU twin started here: a TwinEndpoint plus what QEMU needs."""

    machine: str = ""
    cpu: str = ""
    kernel: Path | None = None

    def check_alive(self) -> None:
        """Raises DeployError with QEMU's exit status and last output if QEMU is no longer running."""
        if not self.is_alive():
            raise DeployError(self.failure_report("QEMU stopped while the firmware was running"))

    def failure_report(self, headline: str) -> str:
        """A message for a failure of this twin: headline, exit status, command, last output."""
        return _failure_report(headline, self.command, self.process, self.boot_lines, self.log_path)


def start_qemu(
    kernel: str | os.PathLike,
    machine: str,
    cpu: str,
    *,
    icount_shift: int = ICOUNT_SHIFT,
    boot_timeout_s: float = BOOT_TIMEOUT_S,
    qemu_binary: str = QEMU_BINARY,
    realtime: bool = False,
) -> QemuEndpoint:
    """Starts QEMU on kernel (an ELF) and waits until the firmware prints m-ready.

    Raises DeployError, showing the command line, the exit code and the last lines seen, when
    QEMU is missing, exits, or no m-ready arrives within boot_timeout_s. QEMU is never left
    running after an error.
    """
    kernel = Path(kernel).absolute()  # QEMU runs in a folder of its own
    if not kernel.is_file():
        raise DeployError(f"firmware image {kernel} does not exist; build the firmware first")
    binary = shutil.which(qemu_binary)
    if binary is None:
        raise DeployError(f"'{qemu_binary}' is not on PATH; install it ({QEMU_INSTALL_HINT})")

    for _attempt in range(_PORT_ATTEMPTS):
        port = tcp_uart.free_port()
        command = qemu_command(machine, cpu, kernel, port, icount_shift=icount_shift, qemu_binary=binary,
                               realtime=realtime)
        # QEMU's working folder: the firmware's host-file channel works here.
        work_dir = Path(tempfile.mkdtemp(prefix="hilbench-twin-"))
        process, log_path = procs.spawn_emulator(command, work_dir, "qemu.log")
        endpoint = QemuEndpoint(
            url=tcp_uart.socket_url(port),
            mode="emulated",
            latency_source="icount",
            process=process,
            command=tuple(command),
            description=f"QEMU {machine} ({cpu}) running {kernel.name}, UART on 127.0.0.1:{port}",
            log_path=log_path,
            cleanups=[lambda d=work_dir: shutil.rmtree(d, ignore_errors=True)],
            host_file_dir=work_dir,
            machine=machine,
            cpu=cpu,
            kernel=kernel,
            icount_shift=icount_shift,
        )
        try:
            _wait_for_ready(endpoint, port, boot_timeout_s)
            return endpoint
        except _PortTaken:
            endpoint.close()
            continue  # someone took the port between our probe and QEMU's bind: try another
        except BaseException:
            endpoint.close()
            raise
    raise DeployError(f"QEMU could not bind a free TCP port on 127.0.0.1 after {_PORT_ATTEMPTS} attempts")


def start_firmware(firmware, *, icount_shift: int = ICOUNT_SHIFT, boot_timeout_s: float = BOOT_TIMEOUT_S,
                   realtime: bool = False) -> QemuEndpoint:
    """Starts a firmware built by hilbench.build for an emulated target.

    The target folder is named after the QEMU machine (mps2-an386, ...), and the CPU comes from
    the recipe's -mcpu flag, so the two can never disagree.
    """
    recipe = firmware.recipe
    if recipe.mode != "emulated":
        raise DeployError(f"target '{recipe.name}' is not an emulated target (mode: {recipe.mode})")
    return start_qemu(
        firmware.elf_path,
        machine=recipe.name,
        cpu=cpu_from_flags(recipe.cpu_flags),
        icount_shift=icount_shift,
        boot_timeout_s=boot_timeout_s,
        realtime=realtime,
    )


class _PortTaken(Exception):
    pass


def _wait_for_ready(endpoint: QemuEndpoint, port: int, timeout_s: float) -> None:
    """Connects to QEMU's UART server and reads the boot lines up to m-ready, then disconnects.

    The session connects again afterwards; QEMU's server accepts a new client, and the firmware
    says nothing while it waits for a command, so nothing is lost in between.
    """
    deadline = time.monotonic() + timeout_s

    def exited() -> BaseException:
        if "Address already in use" in _log_tail(endpoint.log_path):
            return _PortTaken()
        return DeployError(endpoint.failure_report(f"QEMU ({endpoint.machine}) exited during start-up"))

    connection = tcp_uart.connect_when_listening(
        endpoint,
        port,
        deadline,
        attempt_timeout_s=0.2,
        retry_interval_s=0.02,
        exited=exited,
        timed_out=lambda: DeployError(
            endpoint.failure_report(f"QEMU ({endpoint.machine}) did not open its UART port {port} in {timeout_s:g} s")
        ),
    )

    pending = b""
    with connection:
        connection.settimeout(0.1)
        while True:
            try:
                chunk = connection.recv(4096)
            except socket.timeout:
                chunk = None
            if chunk == b"":
                try:
                    endpoint.process.wait(timeout=1.0)  # a closed UART usually means QEMU is exiting
                except subprocess.TimeoutExpired:
                    raise DeployError(endpoint.failure_report(f"QEMU ({endpoint.machine}) closed the UART during boot"))
                raise DeployError(endpoint.failure_report(f"QEMU ({endpoint.machine}) exited during boot"))
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    line = raw.decode("utf-8", "replace").strip()
                    endpoint.boot_lines.append(line)
                    if line.startswith(FATAL_PREFIX):
                        raise DeployError(endpoint.failure_report(f"the firmware stopped with '{line}' during boot"))
                    if line == READY_LINE:
                        return
            if not endpoint.is_alive():
                raise DeployError(endpoint.failure_report(f"QEMU ({endpoint.machine}) exited during boot"))
            if time.monotonic() > deadline:
                raise DeployError(
                    endpoint.failure_report(f"no '{READY_LINE}' from the firmware within {timeout_s:g} s of starting QEMU")
                )


def _log_tail(log_path: Path | None, lines: int = TAIL_LINES) -> str:
    """QEMU's output for an error message: its own error lines first (a fatal error is followed
    by a long register dump), then the last lines."""
    if log_path is None or not log_path.exists():
        return ""
    all_lines = log_path.read_text(errors="replace").strip().splitlines()
    tail = all_lines[-lines:]
    errors = [line for line in all_lines[:-lines] if line.startswith(("qemu", "QEMU"))][:5]
    return "\n".join(errors + (["..."] if errors else []) + tail)


def _failure_report(headline: str, command: Sequence[str], process, uart_lines: list[str], log_path: Path | None) -> str:
    code = process.poll()
    if code is None:
        status = "QEMU is still running (it will be stopped)"
    elif code < 0:
        status = f"QEMU was killed by signal {-code}"
    else:
        status = f"QEMU exit code: {code}"
    parts = [headline, status, f"command: {' '.join(command)}"]
    parts.append("QEMU output (last lines):\n" + (_log_tail(log_path) or "(none)"))
    parts.append("firmware UART (last lines):\n" + ("\n".join(uart_lines[-TAIL_LINES:]) or "(none)"))
    return "\n".join(parts)
