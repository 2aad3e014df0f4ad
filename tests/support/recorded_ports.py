"""pyserial's view of a lab's USB ports, from a recorded port list (tests/fixtures/list_ports/):
stands in for serial.tools.list_ports.comports() on a machine without boards."""

from __future__ import annotations

import json
from pathlib import Path

from serial.tools.list_ports_common import ListPortInfo

PORTS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "list_ports"


def recorded_comports(name: str) -> list[ListPortInfo]:
    """ListPortInfo objects as pyserial would return them on the recorded machine."""
    ports = []
    for record in json.loads((PORTS_DIR / f"{name}.json").read_text()):
        info = ListPortInfo(record["device"], skip_link_detection=True)
        for key, value in record.items():
            setattr(info, key, value)
        ports.append(info)
    return ports
