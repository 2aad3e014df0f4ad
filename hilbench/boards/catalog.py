"""Load the board catalog and lab files into validated :class:`~hilbench.boards.model.Board` records.

The catalog (``catalog.yaml``, shipped in the package) describes every board hilbench
knows. A lab file (``hilbench.yaml`` in the working directory, or ``--lab FILE``) adds
boards and overrides fields of catalog boards for one lab, e.g.::

    boards:
      nano33:                      # override: only the keys given change
        connection: {serial_number: "8F1A3C2B7E5D4A61"}
        power_probe: {kind: joulescope, serial: "000415"}
      nano33-b:                    # a second board of the same kind
        extends: nano33
        connection: {port: /dev/ttyACM3}

Every mistake becomes a :class:`~hilbench.errors.ConfigError` that names the file, the
key as a dotted path, and what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from hilbench.boards.model import Board, BoardRuleError, UsbId
from hilbench.errors import ConfigError

if typing.TYPE_CHECKING:
    from hilbench.lab.config import LabgridConfig

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
LAB_FILE_NAME = "hilbench.yaml"

_TOP_LEVEL_KEYS = ("boards", "labgrid")   # labgrid: see hilbench/lab/config.py
_EXTENDS = "extends"


@dataclass(frozen=True)
class BoardCatalog:
    """All boards known in this run: the shipped catalog plus the lab file, if any."""

    boards: Mapping[str, Board]
    sources: tuple[Path, ...]
    labgrid: "LabgridConfig | None" = None
    """The lab file's labgrid section: the coordinator and each lab board's place."""

    def names(self) -> list[str]:
        """Board names in catalog order."""
        return list(self.boards)

    def get(self, name: str) -> Board:
        """The board called ``name``; a ConfigError listing the known names otherwise."""
        try:
            return self.boards[name]
        except KeyError:
            raise ConfigError(unknown_board_message(name, self.names())) from None


def unknown_board_message(name: str, known: Iterable[str]) -> str:
    """``board 'nano34' is not in the catalog (known: nano33, ...)``, plus a suggestion."""
    known = list(known)
    message = f"board '{name}' is not in the catalog (known: {', '.join(known)})"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    return message


def load_boards(lab: str | Path | None = None, *, cwd: str | Path | None = None,
                catalog: str | Path = CATALOG_PATH) -> BoardCatalog:
    """Load the catalog (default: the shipped one), then the lab file on top of it.

    ``lab`` is an explicit lab file (``--lab``); it must exist. Without it, ``hilbench.yaml``
    in ``cwd`` (default: the current directory) is used when present.
    """
    catalog = Path(catalog)
    raw_boards, origins = _read_board_file(catalog, base={}, lab=False)
    sources = [catalog]
    lab_path = _lab_path(lab, cwd)
    if lab_path is not None:
        lab_boards, lab_origins = _read_board_file(lab_path, base=raw_boards, lab=True)
        raw_boards.update(lab_boards)
        origins.update(lab_origins)
        sources.append(lab_path)
    boards = {name: _build_board(name, raw, origins[name]) for name, raw in raw_boards.items()}
    labgrid = None
    if lab_path is not None:
        from hilbench.lab.config import SECTION, parse_labgrid_section

        section = (_load_yaml(lab_path) or {}).get(SECTION)
        if section is not None:
            labgrid = parse_labgrid_section(section, lab_path, boards)
    return BoardCatalog(boards=boards, sources=tuple(sources), labgrid=labgrid)


def _lab_path(lab: str | Path | None, cwd: str | Path | None) -> Path | None:
    if lab is not None:
        path = Path(lab)
        if not path.is_file():
            raise ConfigError(f"lab file '{path}' does not exist (given with --lab); "
                              "check the path, or leave --lab out to use ./hilbench.yaml")
        return path
    default = Path(cwd if cwd is not None else Path.cwd()) / LAB_FILE_NAME
    return default if default.is_file() else None


# ---------------------------------------------------------------- reading YAML


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: in a lab file the second one would silently win."""


def _construct_mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep=False):
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark,
                f"found duplicate key '{key}'", key_node.start_mark)
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                              _construct_mapping_without_duplicates)


def _load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read board file: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a YAML board file (byte {error.start} is not UTF-8 text)") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = error.problem or error.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: YAML syntax error: {error}") from None


def _read_board_file(path: Path, base: Mapping[str, dict], *,
                     lab: bool) -> tuple[dict[str, dict], dict[str, Path]]:
    """Read one catalog/lab file into raw board mappings, merged over ``base``.

    Returns the raw mappings of the boards this file defines or changes, and for each one
    the file to blame when its merged entry does not validate.
    """
    document = _load_yaml(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping with the key 'boards', "
                          f"got {_describe(document)}")
    _reject_unknown_keys(document, _TOP_LEVEL_KEYS, path, "")
    entries = document.get("boards") or {}
    if not isinstance(entries, dict):
        raise ConfigError(f"{path}: boards: expected a mapping of board name -> entry, "
                          f"got {_describe(entries)}")
    merged: dict[str, dict] = {}
    origins: dict[str, Path] = {}
    for name, entry in entries.items():
        key_path = f"boards.{name}"
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}: boards: board names must be non-empty strings, got {name!r}")
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: {key_path}: expected a mapping of board fields, "
                              f"got {_describe(entry)}")
        entry = dict(entry)
        parent_name = entry.pop(_EXTENDS, None)
        known = {**base, **merged}
        if parent_name is not None:
            if parent_name not in known:
                raise ConfigError(f"{path}: {key_path}.{_EXTENDS}: "
                                  + unknown_board_message(str(parent_name), known))
            start = known[parent_name]
        elif name in known:
            start = known[name]
        elif "mcu" in entry:
            start = {}
        else:
            raise ConfigError(
                f"{path}: {key_path}: " + unknown_board_message(name, known)
                + f". To add a new board, give '{_EXTENDS}: <known board>' or a full entry "
                  "(title, kind, mcu, core, clock_hz, ram_bytes, flash_bytes, ...)")
        _check_fields(Board, entry, path, key_path, partial=True)
        if lab and "cpi" in entry:
            # A lab's own CPI makes the inherited calibration (source, fit, error band) untrue.
            start = {key: value for key, value in start.items() if key != "cpi_calibration"}
            entry.setdefault("cpi_calibration", {"source": f"set in {path}"})
        merged[name] = _deep_merge(start, {**entry, "name": name})
        origins[name] = path
    return merged, origins


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Override's keys win; nested mappings merge key by key; lists are replaced whole."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


# ---------------------------------------------------------------- validation


def _build_board(name: str, raw: dict, origin: Path) -> Board:
    key_path = f"boards.{name}"
    values = _check_fields(Board, raw, origin, key_path, partial=False)
    try:
        return Board(**values)
    except BoardRuleError as error:
        raise ConfigError(f"{origin}: {key_path}.{error.field_path}: {error.message}") from None


def _check_fields(cls: type, data: Any, file: Path, key_path: str, *, partial: bool) -> dict[str, Any]:
    """Validate ``data`` against dataclass ``cls``; return constructor arguments.

    With ``partial`` (a lab override), missing required keys are fine: the entry is merged
    over a complete one and validated again in full afterwards.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: {key_path}: expected a mapping, got {_describe(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown_keys(data, list(fields), file, key_path)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        dotted = f"{key_path}.{name}" if key_path else name
        if name not in data:
            required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            if required and not partial:
                raise ConfigError(f"{file}: {key_path}: missing required key '{name}' "
                                  f"({spec.metadata.get('expect', 'a value')})")
            continue
        values[name] = _convert(hints[name], data[name], spec.metadata, file, dotted, partial)
    return values


def _convert(hint: Any, value: Any, meta: Mapping[str, Any], file: Path, dotted: str, partial: bool) -> Any:
    """Check one value against its type hint and return it in its record form."""
    expect = meta.get("expect", "a value")

    def fail(what: str = "") -> typing.NoReturn:
        raise ConfigError(f"{file}: {dotted}: expected {what or expect}, got {_describe(value)}")

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, meta, file, dotted, partial)
    if dataclasses.is_dataclass(hint):
        values = _check_fields(hint, value, file, dotted, partial=partial)
        return None if partial else hint(**values)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            fail(f"one of {', '.join(choices)} ({expect})")
        return value
    if origin is tuple and typing.get_args(hint)[0] is UsbId:
        if not isinstance(value, list):
            fail()
        ids = []
        for index, item in enumerate(value):
            try:
                ids.append(UsbId.parse(item))
            except (ValueError, TypeError):
                raise ConfigError(f"{file}: {dotted}[{index}]: expected a USB id 'VID:PID' in hex, "
                                  f"e.g. '2341:805a', got {_describe(item)}") from None
        return tuple(ids)
    if hint is str:
        # YAML turns unquoted 000415 into an int; a serial number must stay text.
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            fail()
        if isinstance(value, int):
            fail(f"{expect}, as a quoted string (YAML reads unquoted digits as a number)")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail()
        _check_range(value, meta, fail)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail()
        _check_range(value, meta, fail)
        return float(value)
    raise TypeError(f"no validator for {hint!r} at {dotted}")  # a bug in model.py, not user input


def _check_range(value: float, meta: Mapping[str, Any], fail) -> None:
    """Every number in a board file: finite (YAML reads .nan and .inf as floats), and within
    its field's minimum and maximum."""
    if isinstance(value, float) and not math.isfinite(value):
        fail(f"{meta['expect']}, a finite number")
    minimum, maximum = meta.get("minimum"), meta.get("maximum")
    low = "" if minimum is None else f"{'greater than' if meta.get('exclusive_minimum') else 'at least'} {minimum}"
    if minimum is not None and (value < minimum or (meta.get("exclusive_minimum") and value == minimum)):
        fail(f"{meta['expect']}, {low}" + (f" and at most {maximum}" if maximum is not None else ""))
    if maximum is not None and value > maximum:
        fail(f"{meta['expect']}, " + (f"{low} and " if low else "") + f"at most {maximum}")


def _reject_unknown_keys(data: Mapping, known: list[str] | tuple[str, ...], file: Path, key_path: str) -> None:
    for key in data:
        if key not in known:
            where = f"{key_path}.{key}" if key_path else str(key)
            message = f"{file}: {where}: unknown key '{key}' (known: {', '.join(known)})"
            close = difflib.get_close_matches(str(key), list(known), n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
            raise ConfigError(message)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{value!r} ({type(value).__name__})"
