"""Flash a real board: pyOCD for the Nucleo boards, PlatformIO upload for the Nano 33 BLE, or
nothing for a board the lab keeps flashed (flasher kind ``none``).

A flasher is a small object that turns a resolved board (catalog + lab data: flasher target,
probe serial, port) and what was built for it into one command line, runs it, and reports a
failure with the command, the exit code and the end of the tool's output. The tools are used
through their documented command-line interfaces:

- ``pyocd flash --target TARGET [--uid PROBE] firmware.elf`` (pyOCD programs the ELF's load
  segments and resets the core when it is done);
- ``pio run -d PROJECT -e ENV -t upload --upload-port PORT`` (PlatformIO builds the project
  that :mod:`hilbench.deploy.platformio_project` wrote, then uploads it; for the Nano 33 BLE
  it touches the port at 1200 baud to enter the bootloader and runs bossac).

After flashing, :func:`hilbench.bench.open_dut` opens the board's serial port and checks that
the reply to ``profile`` names the model that was built.

NOT VERIFIED ON HARDWARE: the tests run these flashers against stand-in ``pyocd`` and ``pio``
executables that record their arguments (docs/hardware.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from hilbench.boards import ResolvedBoard
from hilbench.deploy import procs
from hilbench.errors import ConfigError, DeployError

# Flashing 2 MB over SWD, or a first PlatformIO build of the Arduino core, takes minutes.
FLASH_TIMEOUT_S = 900.0
# How long a USB serial port may take to come back after the board resets into new firmware.
PORT_RETURN_TIMEOUT_S = 15.0
_OUTPUT_TAIL_CHARS = 3000
# Phrases of PlatformIO's output when it cannot reach its package registry.
_PLATFORMIO_NETWORK_ERRORS = ("HTTPClientError", "Could not resolve host", "Max retries exceeded",
                              "Failed to establish a new connection", "Name or service not known",
                              "Temporary failure in name resolution")


class FirmwareImage(Protocol):
    """What a flasher needs from the build stage: a Firmware (local build) or PlatformioProject."""

    path: Path
    target: str


@dataclass(frozen=True)
class FlashResult:
    """A flash that succeeded: the command that ran, its output and how long it took."""

    command: tuple[str, ...]
    output: str
    seconds: float


class Flasher:
    """Base of the flashers: build the command from the board, run it, report failures."""

    kind: ClassVar[str] = ""
    tool: ClassVar[str] = ""
    install_hint: ClassVar[str] = ""

    def command(self, board: ResolvedBoard, firmware: FirmwareImage) -> list[str]:
        """The command line that flashes ``firmware`` onto ``board`` (tool name first)."""
        raise NotImplementedError

    def flash(self, board: ResolvedBoard, firmware: FirmwareImage, *,
              timeout_s: float = FLASH_TIMEOUT_S) -> FlashResult:
        """Run the flash command; DeployError naming the command when it cannot run or fails."""
        command = self.command(board, firmware)
        shown = " ".join(command)
        executable = shutil.which(command[0])
        if executable is None:
            raise DeployError(
                f"cannot flash board '{board.name}': '{command[0]}' is not on PATH "
                f"({self.install_hint}), or run its emulated twin with --emulate. "
                f"The command would be: {shown}")
        started = time.monotonic()
        try:
            # In its own process group, so that a timeout or Ctrl-C also stops what the tool
            # started (PlatformIO runs SCons, the compiler and bossac as children).
            process = procs.spawn([executable, *command[1:]], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise DeployError(f"cannot flash board '{board.name}': {shown} could not start: {exc}") from exc
        try:
            raw_output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            procs.terminate(process)
            raw_output, _ = process.communicate()
            raise DeployError(
                f"flashing board '{board.name}' with {self.kind} did not finish within "
                f"{timeout_s:.0f} s.\ncommand: {shown}\n{_tail(raw_output.decode(errors='replace'))}"
            ) from None
        finally:
            procs.terminate(process)  # reaps it, and anything it left in its group
        output = raw_output.decode(errors="replace")
        if process.returncode != 0:
            raise DeployError(
                f"flashing board '{board.name}' with {self.kind} failed (exit {process.returncode})"
                f"{self.failure_hint(output)}. Its emulated twin runs with --emulate."
                f"\ncommand: {shown}\n{_tail(output)}")
        if board.port:
            wait_for_port(board.port)
        return FlashResult(tuple(command), output, time.monotonic() - started)

    def failure_hint(self, output: str) -> str:
        """A sentence that explains a known failure from the tool's output ('' if none)."""
        return ""


class PyOcdFlasher(Flasher):
    """pyOCD through the board's debug probe (the Nucleo boards' ST-LINK)."""

    kind = "pyocd"
    tool = "pyocd"
    install_hint = "pip install pyocd; on Linux also install its udev rules for the probe"

    def command(self, board: ResolvedBoard, firmware: FirmwareImage) -> list[str]:
        flasher = board.board.flasher
        if not flasher.target:
            raise ConfigError(
                f"board '{board.name}' flashes with pyocd but has no flasher.target (pyOCD's name "
                f"for the chip, e.g. stm32l4r5zitx; 'pyocd list --targets' lists them): set "
                f"boards.{board.name}.flasher.target in hilbench.yaml")
        elf = getattr(firmware, "elf_path", None) or firmware.path
        command = [self.tool, "flash", "--target", flasher.target]
        probe = probe_serial(board)
        if probe:
            command += ["--uid", probe]
        return [*command, str(elf)]


class PlatformioFlasher(Flasher):
    """PlatformIO's upload target: builds the generated project and uploads it over the port."""

    kind = "platformio"
    tool = "pio"
    install_hint = "pip install platformio; its first build downloads the board's platform and toolchain"

    def command(self, board: ResolvedBoard, firmware: FirmwareImage) -> list[str]:
        env = getattr(firmware, "env", None)
        if env is None:
            raise DeployError(
                f"board '{board.name}' uploads with PlatformIO, but {firmware.path} is not a "
                f"PlatformIO project (built for target '{firmware.target}'); set its "
                "build.platformio_env in the catalog or lab file")
        if not board.port:
            raise DeployError(f"board '{board.name}' has no serial port to upload through")
        return [self.tool, "run", "-d", str(firmware.path), "-e", env, "-t", "upload",
                "--upload-port", board.port]

    def failure_hint(self, output: str) -> str:
        if any(phrase in output for phrase in _PLATFORMIO_NETWORK_ERRORS):
            return ("; PlatformIO could not download the board's platform or toolchain from its "
                    "registry (no network?). Install them once on a machine that can reach it "
                    "(pio pkg install -g -p nordicnrf52), or flash the board yourself and set "
                    "flasher.kind: none")
        return ""


class PreflashedFlasher(Flasher):
    """Flasher kind ``none``: the lab keeps the board flashed; hilbench only talks to it."""

    kind = "none"

    def command(self, board: ResolvedBoard, firmware: FirmwareImage) -> list[str]:
        raise DeployError(f"board '{board.name}' has flasher kind 'none': hilbench does not flash it")


_FLASHERS: dict[str, type[Flasher]] = {
    flasher.kind: flasher for flasher in (PyOcdFlasher, PlatformioFlasher, PreflashedFlasher)}


def flasher_for(board: ResolvedBoard) -> Flasher:
    """The flasher of the board's ``flasher.kind``; DeployError for a kind without one."""
    kind = board.board.flasher.kind
    flasher = _FLASHERS.get(kind)
    if flasher is None:
        raise DeployError(
            f"board '{board.name}' has flasher kind '{kind}', which hilbench cannot run yet "
            f"(it can: {', '.join(sorted(_FLASHERS))}); use --emulate, or flash it yourself and "
            f"set boards.{board.name}.flasher.kind: none in hilbench.yaml")
    return flasher()


def flash_board(board: ResolvedBoard, firmware: FirmwareImage) -> FlashResult:
    """Flash ``firmware`` onto the connected ``board`` with its catalog flasher."""
    if board.mode != "hardware":
        raise DeployError(f"board '{board.name}' runs as {board.describe()}: there is nothing to flash")
    return flasher_for(board).flash(board, firmware)


def probe_serial(board: ResolvedBoard) -> str | None:
    """The debug probe to flash through: the lab's flasher.probe_serial, else the serial number
    of the board's own USB port (an on-board ST-LINK serves the virtual COM port and the debug
    interface under one USB serial number, which is pyOCD's probe uid)."""
    if board.board.flasher.probe_serial:
        return board.board.flasher.probe_serial
    if board.board.connection.serial_number:
        return board.board.connection.serial_number
    if board.port_info is not None and board.port_info.serial_number:
        return board.port_info.serial_number
    return None


def wait_for_port(port: str, timeout_s: float = PORT_RETURN_TIMEOUT_S) -> None:
    """Wait until a serial device path exists again (USB ports vanish while a board resets).

    Network URLs (socket://, rfc2217://) cannot be checked and return at once.
    """
    if "://" in port:
        return
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(port):
        if time.monotonic() > deadline:
            raise DeployError(f"serial port {port} did not come back within {timeout_s:.0f} s after "
                              "flashing; check the cable, or set connection.port if it got a new name")
        time.sleep(0.1)


def _tail(output: str, max_chars: int = _OUTPUT_TAIL_CHARS) -> str:
    output = output.strip()
    if not output:
        return "(the tool printed nothing)"
    if len(output) > max_chars:
        return "...\n" + output[-max_chars:]
    return output


__all__ = ["FLASH_TIMEOUT_S", "FlashResult", "Flasher", "PlatformioFlasher", "PreflashedFlasher",
           "PyOcdFlasher", "flash_board", "flasher_for", "probe_serial", "wait_for_port"]
