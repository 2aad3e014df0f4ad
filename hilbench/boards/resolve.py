"""Decide how a board runs now: on its hardware, on its emulated twin, or on the host.

A board runs as hardware when its serial line is found: by URL (trusted, it cannot be
probed), by port name, by USB serial number, or by USB VID:PID in the port list. Otherwise
its emulated twin stands in, and the result says so; ``emulate=True`` forces the twin and
``require_hardware=True`` turns the fallback into an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Literal, Mapping, Sequence

from hilbench.boards.model import Board
from hilbench.boards.ports import PortInfo
from hilbench.errors import ConfigError, DeployError

if TYPE_CHECKING:
    from hilbench.lab.config import BoardPlace

Mode = Literal["hardware", "emulated", "host"]


class BoardNotConnectedError(DeployError):
    """Hardware was required (``--require-hardware``) but the board is not connected."""


@dataclass(frozen=True)
class ResolvedBoard:
    """A board together with how it will run in this session."""

    board: Board
    mode: Mode
    firmware_target: str | None
    """The firmware_targets/ folder to build locally (None: build with PlatformIO)."""
    port: str | None = None
    """Device or pyserial URL of the real board (mode ``hardware`` only)."""
    port_info: PortInfo | None = None
    reason: str = ""
    """Why this mode was chosen, in words (shown to the user)."""
    lab_place: BoardPlace | None = None
    """The labgrid place the board runs on (see hilbench/lab): its serial line is the place's
    NetworkSerialPort, known once the place is acquired."""

    @property
    def name(self) -> str:
        """The board's name."""
        return self.board.name

    @property
    def qemu_machine(self) -> str | None:
        """The QEMU machine that emulates the board (mode ``emulated`` only)."""
        return self.board.twin.qemu_machine if self.mode == "emulated" and self.board.twin else None

    def describe(self) -> str:
        """``hardware on /dev/ttyACM0``, ``emulated on qemu mps2-an386`` or ``host``."""
        if self.lab_place is not None:
            return f"{self.mode} on labgrid {self.lab_place.describe()}"
        if self.mode == "hardware":
            return f"hardware on {self.port}"
        if self.mode == "emulated" and self.port:
            return f"emulated, running at {self.port}"
        if self.mode == "emulated":
            return f"emulated on qemu {self.qemu_machine}"
        return "host"


def resolve_board(board: Board, ports: Sequence[PortInfo], *, emulate: bool = False,
                  require_hardware: bool = False,
                  pinned: Mapping[str, str] | None = None,
                  lab_place: BoardPlace | None = None) -> ResolvedBoard:
    """Choose the mode for ``board`` given the serial ports present.

    ``pinned`` maps USB serial numbers and port names that the lab file assigns to boards
    (see :func:`pinned_ports`) to those boards' names: a port pinned to another board is not
    this board's even when its USB id matches.

    Raises ConfigError when ``emulate`` and ``require_hardware`` are both given, or when
    several identical probes match and the lab file does not say which one is this board;
    BoardNotConnectedError when hardware is required but not found.
    """
    if emulate and require_hardware:
        raise ConfigError("--emulate and --require-hardware contradict each other; give one of them")
    if board.kind == "host":
        return ResolvedBoard(board, "host", board.build.firmware_target,
                             reason="the host board always runs on this computer")
    if lab_place is not None and not emulate:
        if board.kind == "emulated" and require_hardware:
            raise BoardNotConnectedError(
                f"board '{board.name}' is an emulated twin on labgrid {lab_place.describe()}; "
                "drop --require-hardware to run it")
        mode = "emulated" if board.kind == "emulated" else "hardware"
        return ResolvedBoard(board, mode, board.build.firmware_target, lab_place=lab_place,
                             reason=f"the lab file puts it on {lab_place.describe()} "
                                    f"(labgrid coordinator {lab_place.coordinator})")
    if board.kind == "emulated" and board.connection.url and board.flasher.kind == "none":
        # A twin that someone else started and serves (e.g. 'hilbench twin serve'): hilbench
        # only talks to it, and its figures stay labelled emulated.
        return ResolvedBoard(board, "emulated", None, port=board.connection.url,
                             reason=f"a running twin at {board.connection.url} (lab file: "
                                    "kind emulated, connection.url, flasher kind none)")
    if board.kind == "emulated":
        if require_hardware:
            raise BoardNotConnectedError(
                f"board '{board.name}' exists only as an emulator ({board.title}); "
                "drop --require-hardware to run it on QEMU")
        return _emulated(board, f"'{board.name}' is emulation-only")
    if emulate:
        return _emulated(board, "--emulate was given")

    found, searched = _find_port(board, ports, pinned or {})
    if found is not None:
        port, info, how = found
        return ResolvedBoard(board, "hardware", board.build.firmware_target, port=port,
                             port_info=info, reason=how)
    if require_hardware:
        seen = ", ".join(_port_label(p) for p in ports) or "none"
        raise BoardNotConnectedError(
            f"board '{board.name}' ({board.title}) is not connected: {searched} "
            f"(serial ports seen: {seen}). Plug it in, or set connection.port / "
            f"connection.serial_number for it in hilbench.yaml, or drop --require-hardware "
            f"to use its emulated twin")
    return _emulated(board, f"not connected ({searched})")


def _emulated(board: Board, why: str) -> ResolvedBoard:
    twin = board.twin
    assert twin is not None, "the loader guarantees a twin for boards of kind board/emulated"
    return ResolvedBoard(board, "emulated", twin.target,
                         reason=f"{why}; using its emulated twin, qemu {twin.qemu_machine}")


def pinned_ports(boards: Iterable[Board]) -> dict[str, str]:
    """USB serial numbers (lower case) and port names that boards claim, mapped to the board name."""
    pinned: dict[str, str] = {}
    for board in boards:
        if board.connection.serial_number:
            pinned[board.connection.serial_number.lower()] = board.name
        if board.connection.port:
            pinned[board.connection.port] = board.name
    return pinned


def _find_port(board: Board, ports: Sequence[PortInfo],
               pinned: Mapping[str, str]) -> tuple[tuple[str, PortInfo | None, str] | None, str]:
    """Find the board's serial line; return ((port, info, how found) or None, what was searched)."""
    connection = board.connection
    # A network port (rfc2217://, socket://) cannot be listed; the lab file vouches for it,
    # whether it is given as the url or as the port (open_dut checks that it answers).
    for url in (connection.url, connection.port):
        if url and "://" in url:
            return (url, None, f"lab file gives the URL {url}"), ""
    if connection.port:
        for info in ports:
            if info.device == connection.port:
                return (info.device, info, f"port {info.device} is present"), ""
        if os.path.exists(connection.port):
            return (connection.port, None, f"port {connection.port} exists"), ""
        return None, f"port {connection.port} is absent"
    if connection.serial_number:
        wanted = connection.serial_number.lower()
        for info in ports:
            if (info.serial_number or "").lower() == wanted:
                return (info.device, info, f"USB serial number {info.serial_number} found on {info.device}"), ""
        return None, f"no USB device with serial number {connection.serial_number}"
    ids = {(usb.vid, usb.pid) for usb in connection.usb_ids}
    def pinned_elsewhere(info: PortInfo) -> bool:
        owners = {pinned.get((info.serial_number or "").lower()), pinned.get(info.device)}
        return bool(owners - {None, board.name})

    matches = [info for info in ports if (info.vid, info.pid) in ids and not pinned_elsewhere(info)]
    wanted_ids = "/".join(str(usb) for usb in connection.usb_ids)
    if not matches:
        if not ids:
            return None, "the catalog gives no USB id, serial number, port or URL for it"
        taken = sorted({pinned.get((p.serial_number or "").lower()) or pinned.get(p.device) or ""
                        for p in ports if (p.vid, p.pid) in ids} - {""})
        if taken:
            return None, f"the USB devices with id {wanted_ids} are pinned to {', '.join(taken)}"
        return None, f"no USB device with id {wanted_ids}"
    if len(matches) > 1:
        listed = "; ".join(_port_label(p) for p in matches)
        raise ConfigError(
            f"board '{board.name}': {len(matches)} serial ports match USB id {wanted_ids} ({listed}); "
            f"say which one is this board with boards.{board.name}.connection.serial_number "
            f"(or .port) in hilbench.yaml")
    info = matches[0]
    return (info.device, info, f"USB id {info.vid:04x}:{info.pid:04x} found on {info.device} "
                               "(matched by USB id only: any board with the same USB chip matches; "
                               f"pin it with boards.{board.name}.connection.serial_number)"), ""


def check_distinct_ports(resolved: Sequence[ResolvedBoard]) -> None:
    """Fail when two boards of one session resolve to the same serial port.

    Identical debug probes (every Nucleo's ST-LINK) share a USB id, so two catalog boards
    can both match one attached board; running both would flash one board twice.
    """
    by_port: dict[str, list[str]] = {}
    for entry in resolved:
        if entry.mode == "hardware" and entry.port:
            by_port.setdefault(entry.port, []).append(entry.name)
    for port, names in by_port.items():
        if len(names) > 1:
            raise ConfigError(
                f"boards {', '.join(names)} all resolve to {port}: they match the same USB id. "
                "Set connection.serial_number (see 'hilbench ports') for each of them in "
                "hilbench.yaml, or run them one at a time")


def _port_label(info: PortInfo) -> str:
    usb = f" {info.vid:04x}:{info.pid:04x}" if info.vid is not None and info.pid is not None else ""
    serial = f" SER={info.serial_number}" if info.serial_number else ""
    return f"{info.device}{usb}{serial}"
