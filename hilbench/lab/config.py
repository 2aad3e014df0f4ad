"""The lab file's ``labgrid:`` section: which coordinator, and which place each board is.

::

    labgrid:
      coordinator: lab-server:20408   # HOST[:PORT] of labgrid-coordinator (port 20408 by default)
      acquire_timeout_s: 600          # how long to wait for a place someone else holds
      places:
        nano33-a: {place: rack1-nano33-a}          # this very place
        nucleo-l4r5zi: {tags: {board: nucleo-l4r5zi}}  # any free place with these tags

A board listed under ``places`` runs on that labgrid place: hilbench reserves and acquires it
for each board x model, talks to the board through the place's ``NetworkSerialPort``, and
releases it afterwards. Every mistake is a ConfigError naming the file and the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from hilbench.boards.catalog import _describe, _reject_unknown_keys, unknown_board_message
from hilbench.errors import ConfigError

SECTION = "labgrid"
DEFAULT_COORDINATOR_PORT = 20408
DEFAULT_ACQUIRE_TIMEOUT_S = 600.0
_SECTION_KEYS = ("coordinator", "acquire_timeout_s", "places")
_PLACE_KEYS = ("place", "tags")
# labgrid's own rules (labgrid.remote.common.TAG_KEY); values are kept to a safe alphabet.
_TAG_KEY = re.compile(r"[a-z][a-z0-9_]+")
_TAG_VALUE = re.compile(r"[A-Za-z0-9_.:-]+")
_PLACE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_HOST = re.compile(r"[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:]+\]")


@dataclass(frozen=True)
class BoardPlace:
    """Which labgrid place a board is: a place name, or tags that any free place may match."""

    board: str
    coordinator: str
    """HOST:PORT of the labgrid coordinator that manages the place."""
    place: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    acquire_timeout_s: float = DEFAULT_ACQUIRE_TIMEOUT_S
    """How long to wait for the place while someone else holds it."""

    @property
    def reservation_filter(self) -> dict[str, str]:
        """The coordinator's reservation filter: its scheduler matches ``name`` to place names."""
        return {"name": self.place} if self.place else dict(self.tags)

    def describe(self) -> str:
        """``place rack1-nano33-a`` or ``a place tagged board=nucleo-l4r5zi``."""
        if self.place:
            return f"place {self.place}"
        return "a place tagged " + ",".join(f"{k}={v}" for k, v in sorted(self.tags.items()))


@dataclass(frozen=True)
class LabgridConfig:
    """The validated ``labgrid:`` section of a lab file."""

    coordinator: str
    places: Mapping[str, BoardPlace]
    source: Path | None = None

    def place_of(self, board: str) -> BoardPlace | None:
        """The board's place, or None when the board is not a labgrid board."""
        return self.places.get(board)


def parse_labgrid_section(section: Any, file: Path, known_boards: Mapping[str, Any]) -> LabgridConfig:
    """Validate a lab file's ``labgrid:`` mapping against the boards the lab knows."""
    where = f"{file}: {SECTION}"
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: expected a mapping with coordinator and places, got "
                          f"{_describe(section)}")
    _reject_unknown_keys(section, _SECTION_KEYS, file, SECTION)
    if "coordinator" not in section:
        raise ConfigError(f"{where}: missing required key 'coordinator' (HOST[:PORT] of "
                          f"labgrid-coordinator, e.g. lab-server:{DEFAULT_COORDINATOR_PORT})")
    coordinator = parse_coordinator(section["coordinator"], f"{where}.coordinator")
    timeout = section.get("acquire_timeout_s", DEFAULT_ACQUIRE_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ConfigError(f"{where}.acquire_timeout_s: expected seconds to wait for a place "
                          f"held by someone else, a number greater than 0, got {_describe(timeout)}")
    entries = section.get("places") or {}
    if not isinstance(entries, dict):
        raise ConfigError(f"{where}.places: expected a mapping of board name -> "
                          f"{{place: NAME}} or {{tags: {{KEY: VALUE}}}}, got {_describe(entries)}")
    places = {}
    for board, entry in entries.items():
        key_path = f"{SECTION}.places.{board}"
        if board not in known_boards:
            raise ConfigError(f"{file}: {key_path}: {unknown_board_message(str(board), known_boards)}")
        places[board] = BoardPlace(board, coordinator, acquire_timeout_s=float(timeout),
                                   **_parse_place(entry, file, key_path))
    return LabgridConfig(coordinator, places, file)


def parse_coordinator(value: Any, where: str) -> str:
    """``HOST`` or ``HOST:PORT`` (port 1..65535), returned as ``HOST:PORT``."""
    expect = f"HOST[:PORT] of labgrid-coordinator, e.g. lab-server:{DEFAULT_COORDINATOR_PORT}"
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected {expect}, got {_describe(value)}")
    host, _, port_text = value.rpartition(":") if not value.endswith("]") else (value, "", "")
    if not host:   # no colon: the whole value is the host
        host, port_text = value, str(DEFAULT_COORDINATOR_PORT)
    if not _HOST.fullmatch(host) or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{where}: expected {expect}, got {value!r}")
    return f"{host}:{int(port_text)}"


def _parse_place(entry: Any, file: Path, key_path: str) -> dict[str, Any]:
    """The place name or the tags of one board's entry."""
    where = f"{file}: {key_path}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected {{place: NAME}} or {{tags: {{KEY: VALUE}}}}, "
                          f"got {_describe(entry)}")
    _reject_unknown_keys(entry, _PLACE_KEYS, file, key_path)
    if ("place" in entry) == ("tags" in entry):
        raise ConfigError(f"{where}: give exactly one of 'place' (a labgrid place name) or "
                          "'tags' (any free place with these tags)")
    if "place" in entry:
        name = entry["place"]
        if not isinstance(name, str) or not _PLACE_NAME.fullmatch(name):
            raise ConfigError(f"{where}.place: expected a labgrid place name (letters, digits, "
                              f"'.', '_', '-'), got {_describe(name)}")
        return {"place": name}
    tags = entry["tags"]
    if not isinstance(tags, dict) or not tags:
        raise ConfigError(f"{where}.tags: expected a non-empty mapping of tag -> value, "
                          f"e.g. {{board: nucleo-l4r5zi}}, got {_describe(tags)}")
    for tag, value in tags.items():
        if not isinstance(tag, str) or not _TAG_KEY.fullmatch(tag):
            raise ConfigError(f"{where}.tags: tag {tag!r} is not a labgrid tag name (lower case "
                              "letters, digits and '_', starting with a letter, 2 or more characters)")
        if not isinstance(value, str) or not _TAG_VALUE.fullmatch(value):
            raise ConfigError(f"{where}.tags.{tag}: expected a text value (letters, digits, "
                              f"'_', '.', ':', '-'; quote numbers), got {_describe(value)}")
    return {"tags": dict(tags)}


