"""Serial ports seen on this computer, as plain data.

Resolution (:mod:`hilbench.boards.resolve`) takes a list of :class:`PortInfo` rather than
calling pyserial itself, so a recorded port list (JSON) can stand in for the live one: in
tests, and through ``HILBENCH_LIST_PORTS=file.json`` to replay a lab's USB setup on a
machine without boards.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from hilbench.errors import ConfigError

LIST_PORTS_ENV = "HILBENCH_LIST_PORTS"


@dataclass(frozen=True)
class PortInfo:
    """The fields of pyserial's ``ListPortInfo`` that identify a board."""

    device: str
    name: str | None = None
    description: str = "n/a"
    hwid: str = "n/a"
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    location: str | None = None
    manufacturer: str | None = None
    product: str | None = None
    interface: str | None = None

    @classmethod
    def from_pyserial(cls, info: Any) -> "PortInfo":
        """Copy a ``serial.tools.list_ports_common.ListPortInfo``."""
        return cls(**{f.name: getattr(info, f.name, None) for f in fields(cls)})

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, the format of recorded port lists."""
        return asdict(self)


def live_ports() -> list[PortInfo]:
    """The serial ports pyserial finds now."""
    from serial.tools import list_ports  # imported late: only a live scan needs it

    return [PortInfo.from_pyserial(info) for info in list_ports.comports()]


def load_ports(path: str | Path) -> list[PortInfo]:
    """Read a recorded port list: a JSON array of objects with PortInfo's fields."""
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the recorded port list: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a recorded port list (byte {error.start} is not UTF-8 "
                          f"text); record one with 'hilbench ports --save FILE'") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    known = {f.name for f in fields(PortInfo)}
    if not isinstance(records, list):
        raise ConfigError(f"{path}: expected a JSON array of ports, got {type(records).__name__}")
    ports = []
    for index, record in enumerate(records):
        if not isinstance(record, dict) or "device" not in record:
            raise ConfigError(f"{path}: [{index}]: expected an object with at least 'device'")
        unknown = sorted(set(record) - known)
        if unknown:
            raise ConfigError(f"{path}: [{index}]: unknown key(s) {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(known))})")
        for key, value in record.items():
            if not _valid_port_field(key, value):
                raise ConfigError(f"{path}: [{index}].{key}: expected "
                                  f"{'a USB id number 0..65535' if key in USB_ID_FIELDS else 'text'}"
                                  f"{'' if key == 'device' else ' or null'}, got {value!r}")
        ports.append(PortInfo(**record))
    return ports


USB_ID_FIELDS = ("vid", "pid")


def _valid_port_field(key: str, value: Any) -> bool:
    """A recorded field has the type pyserial gives it: vid/pid numbers, the rest text."""
    if value is None:
        return key != "device"
    if key in USB_ID_FIELDS:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF
    return isinstance(value, str)


def scan_ports() -> list[PortInfo]:
    """The port list resolution should use: recorded if HILBENCH_LIST_PORTS is set, else live."""
    recorded = os.environ.get(LIST_PORTS_ENV)
    return load_ports(recorded) if recorded else live_ports()


def record_ports(path: str | Path) -> int:
    """Write the live port list to ``path`` as JSON (to reproduce a lab setup); return the count."""
    from hilbench.record.atomic import atomic_write_text, check_output_path

    destination = check_output_path(path, "--save")
    ports = live_ports()
    atomic_write_text(destination, json.dumps([p.to_json() for p in ports], indent=2) + "\n")
    return len(ports)
