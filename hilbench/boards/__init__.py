"""Boards: the catalog, lab files, and how each board runs now (hardware, emulated, host).

Typical use::

    from hilbench.boards import resolve_boards
    [nano] = resolve_boards(["nano33"])   # catalog + ./hilbench.yaml, live USB ports
    nano.mode, nano.describe()            # with no board plugged in:
                                          # ('emulated', 'emulated on qemu mps2-an386')
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from hilbench.boards.catalog import BoardCatalog, load_boards, unknown_board_message
from hilbench.boards.model import (Board, BoardRuleError, BuildRecipe, Connection, CpiCalibration,
                                   EmulatedTwin, Flasher, PowerProbe, PowerProfile, UsbId)
from hilbench.boards.ports import PortInfo, live_ports, load_ports, scan_ports
from hilbench.boards.resolve import (BoardNotConnectedError, ResolvedBoard, check_distinct_ports,
                                     pinned_ports, resolve_board)

__all__ = [
    "Board", "BoardCatalog", "BoardNotConnectedError", "BoardRuleError", "BuildRecipe",
    "Connection", "CpiCalibration", "EmulatedTwin", "Flasher", "PortInfo", "PowerProbe", "PowerProfile",
    "ResolvedBoard", "UsbId", "check_distinct_ports", "live_ports", "load_boards", "load_ports",
    "pinned_ports", "resolve_board", "resolve_boards", "scan_ports", "split_board_names",
    "unknown_board_message",
]


def split_board_names(values: Iterable[str]) -> list[str]:
    """Flatten repeated and comma-separated board options, keeping order, without duplicates."""
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


def resolve_boards(names: Sequence[str], *, lab: str | Path | None = None, emulate: bool = False,
                   require_hardware: bool = False, ports: Sequence[PortInfo] | None = None,
                   catalog: BoardCatalog | None = None) -> list[ResolvedBoard]:
    """Load the catalog (+ lab file) and resolve each named board.

    ``ports`` defaults to :func:`scan_ports` (live, or recorded via HILBENCH_LIST_PORTS).
    Boards on labgrid places are checked with their coordinator (reachable, place exists).
    """
    catalog = catalog or load_boards(lab)
    boards = [catalog.get(name) for name in names]   # unknown names fail before any scan
    ports = scan_ports() if ports is None else ports
    pinned = pinned_ports(catalog.boards.values())
    lab_places = catalog.labgrid.places if catalog.labgrid else {}
    resolved = [resolve_board(board, ports, emulate=emulate, require_hardware=require_hardware,
                              pinned=pinned, lab_place=lab_places.get(board.name))
                for board in boards]
    check_distinct_ports(resolved)
    if any(entry.lab_place is not None for entry in resolved):
        from hilbench.lab.places import check_lab_boards

        check_lab_boards(resolved)   # an unreachable coordinator fails here, before any build
    return resolved
