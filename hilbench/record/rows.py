"""Result rows: validation, and their CSV encoding (the one CSV reader/writer of hilbench).

A row is a plain dict keyed by ``RESULT_COLUMNS``. Numbers are Python ints/floats, a figure
that was not measured is ``None`` (an empty CSV cell), text is ``str``.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from hilbench.errors import HilbenchError
from hilbench.record.atomic import atomic_write_text
from hilbench.record.schema import (
    ENERGY_FIGURES,
    ENERGY_SOURCES,
    ENERGY_SOURCES_BY_MODE,
    FRACTION_COLUMNS,
    KEY_COLUMNS,
    LATENCY_FIGURES,
    LATER_COLUMNS,
    LATENCY_SOURCES,
    LATENCY_SOURCES_BY_MODE,
    MODES,
    NON_NEGATIVE_COLUMNS,
    NUMERIC_COLUMNS,
    REQUIRED_COLUMNS,
    RESULT_COLUMNS,
    SCHEMA_VERSION,
)

Row = dict[str, object]

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Prefix that makes a spreadsheet show the cell as text. Text that already starts with it is
# prefixed too, so that reading strips exactly one and every value round-trips.
TEXT_MARKER = "'"


class ResultsError(HilbenchError):
    """A result row or results file does not follow the result-row contract."""


def row_key(row: Mapping[str, object]) -> tuple[str, ...]:
    """The row's identity: (board, model, runtime, mode)."""
    return tuple(str(row[column]) for column in KEY_COLUMNS)


def _describe(row: Mapping[str, object]) -> str:
    parts = [str(row.get(name) or "?") for name in ("board", "model", "runtime", "mode")]
    return "/".join(parts)


def _number(column: str, value: object, where: str) -> int | float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ResultsError(
            f"{where}: column '{column}' must be a number or empty, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        raise ResultsError(
            f"{where}: column '{column}' is {number}; leave a figure that was not measured "
            "empty (None) instead")
    return number


def validate_row(row: Mapping[str, object], where: str = "result row") -> Row:
    """Check one row against the contract and return it normalised (all columns present).

    Raises ResultsError naming the column and what is expected when: a column is unknown, a
    key column is empty, a label is not one of the allowed values, a figure has no label
    saying where it came from, a label is impossible for the mode (e.g. ``icount`` on
    hardware), or a number is out of its range.
    """
    where = f"{where} ({_describe(row)})"
    unknown = sorted(set(row) - set(RESULT_COLUMNS))
    if unknown:
        raise ResultsError(
            f"{where}: unknown column(s) {', '.join(unknown)}; a result row has exactly the "
            "columns of hilbench.record.schema.RESULT_COLUMNS (add new ones there)")
    clean: Row = {}
    for column in RESULT_COLUMNS:
        value = row.get(column)
        if column in NUMERIC_COLUMNS:
            clean[column] = _number(column, value, where)
        else:
            clean[column] = "" if value is None else str(value)

    for column in REQUIRED_COLUMNS:
        if not clean[column]:
            raise ResultsError(f"{where}: column '{column}' is empty; every row names its "
                               f"{', '.join(REQUIRED_COLUMNS)}")
    mode, latency_source, energy_source = (
        clean["mode"], clean["latency_source"], clean["energy_source"])
    if mode not in MODES:
        raise ResultsError(f"{where}: mode {mode!r} is not one of {', '.join(MODES)}")
    if latency_source and latency_source not in LATENCY_SOURCES:
        raise ResultsError(f"{where}: latency_source {latency_source!r} is not one of "
                           f"{', '.join(LATENCY_SOURCES)}")
    if energy_source not in ENERGY_SOURCES:
        raise ResultsError(f"{where}: energy_source {energy_source!r} is not one of "
                           f"{', '.join(s or 'empty' for s in ENERGY_SOURCES)}")

    latency_measured = [c for c in LATENCY_FIGURES if clean[c] is not None]
    if latency_measured and not latency_source:
        raise ResultsError(f"{where}: {', '.join(latency_measured)} given without a "
                           "latency_source; say where the figure came from")
    if latency_source and latency_source not in LATENCY_SOURCES_BY_MODE[mode]:
        raise ResultsError(
            f"{where}: latency_source {latency_source!r} cannot come from mode {mode!r} "
            f"(possible: {', '.join(LATENCY_SOURCES_BY_MODE[mode])})")
    energy_measured = any(clean[c] is not None for c in ENERGY_FIGURES)
    if energy_measured and not energy_source:
        raise ResultsError(f"{where}: energy_uj given without an energy_source; say where "
                           "the figure came from (probe, capture or model)")
    if energy_source and not energy_measured:
        raise ResultsError(f"{where}: energy_source is {energy_source!r} but energy_uj is "
                           "empty; leave energy_source empty when energy was not measured")
    if energy_source not in ENERGY_SOURCES_BY_MODE[mode]:
        raise ResultsError(
            f"{where}: energy_source {energy_source!r} cannot come from mode {mode!r} "
            f"(possible: {', '.join(s or 'empty' for s in ENERGY_SOURCES_BY_MODE[mode])})")

    if clean["cpi"] is not None and not (clean["cpi"] > 0 and clean["cpi_source"]):
        raise ResultsError(f"{where}: cpi {clean['cpi']} needs to be positive and to come with "
                           "cpi_source, saying where the CPI came from")
    if clean["cpi"] is not None and mode != "emulated":
        raise ResultsError(f"{where}: cpi is set on a {mode} row; only emulated latency is "
                           "instructions x cpi")
    if clean["timestamp"]:
        _check_timestamp(str(clean["timestamp"]), where)
    for column in NON_NEGATIVE_COLUMNS:
        value = clean[column]
        if value is not None and value < 0:
            raise ResultsError(f"{where}: column '{column}' is negative ({value})")
    for column in FRACTION_COLUMNS:
        value = clean[column]
        if value is not None and value > 1:
            raise ResultsError(f"{where}: column '{column}' is {value}; rates are fractions "
                               "in [0, 1] (0.915, not 91.5)")
    delta = clean["accuracy_delta"]
    if delta is not None and not -1 <= delta <= 1:
        raise ResultsError(f"{where}: accuracy_delta is {delta}; it is device minus float "
                           "accuracy as a fraction, within [-1, 1]")
    return clean


def _check_timestamp(text: str, where: str) -> None:
    # Rows from different runs are ordered by timestamp: it must carry its time zone.
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ResultsError(f"{where}: timestamp {text!r} is not ISO 8601 with a time zone "
                           "(e.g. 2026-11-26T18:39:47.123+00:00)")


# --- cells ------------------------------------------------------------------------------

def encode_cell(column: str, value: object) -> str:
    """One CSV cell: numbers exactly (repr round-trips floats), text neutralised."""
    if value is None:
        return ""
    if column in NUMERIC_COLUMNS:
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS + (TEXT_MARKER,)) and not _is_number(text):
        return TEXT_MARKER + text
    return text


def decode_cell(column: str, text: str, where: str) -> object:
    """The inverse of encode_cell."""
    if column in NUMERIC_COLUMNS:
        if text == "":
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise ResultsError(f"{where}: column '{column}' holds {text!r}, not a number; "
                               "the file was edited by hand or is not a hilbench result "
                               "file") from None
    return text[1:] if text.startswith(TEXT_MARKER) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- files ------------------------------------------------------------------------------

def rows_to_csv(rows: Iterable[Mapping[str, object]]) -> str:
    """CSV text with the RESULT_COLUMNS header and one line per (already valid) row."""
    buffer = io.StringIO()
    # RFC 4180 line ends: the csv module quotes a cell holding CR or LF only when that
    # character is part of the line terminator, so "\r\n" keeps such cells intact.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RESULT_COLUMNS)
    for row in rows:
        writer.writerow([encode_cell(c, row.get(c)) for c in RESULT_COLUMNS])
    return buffer.getvalue()


# A row in a file is a finished measurement of a known run.
STORED_ROW_COLUMNS = ("schema_version", "run_id", "timestamp")


def validate_stored_row(row: Mapping[str, object], where: str) -> Row:
    """validate_row, and the run columns a row in a results file must have."""
    clean = validate_row(row, where)
    missing = [column for column in STORED_ROW_COLUMNS if clean[column] in (None, "")]
    if missing:
        raise ResultsError(f"{where}: {', '.join(missing)} empty; rows in a results file "
                           "come from a run (RunRecorder.append_row fills them)")
    return clean


def write_results_csv(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    """Validate ``rows`` and replace ``path`` atomically with them."""
    checked = [validate_stored_row(row, f"row {i + 1} for {path}")
               for i, row in enumerate(rows)]
    atomic_write_text(Path(path), rows_to_csv(checked))


def read_results_csv(path: Path) -> list[Row]:
    """Read a results CSV (a run's results.csv or a leaderboard), checking its schema.

    Raises ResultsError if the file is missing, was written with another schema_version, or
    its header is not the RESULT_COLUMNS header.
    """
    path = Path(path)
    try:
        # newline="": line ends inside quoted cells are data, not to be translated
        with open(path, encoding="utf-8", newline="") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise ResultsError(f"results file {path} does not exist") from None
    except UnicodeDecodeError as error:
        raise ResultsError(f"{path} is not a hilbench results CSV: byte {error.start} is not "
                           "UTF-8 text (hilbench writes UTF-8; was the file saved in another "
                           "encoding, or is it binary?)") from None
    except IsADirectoryError:
        raise ResultsError(f"{path} is a folder, not a results CSV") from None
    if "\0" in text:
        raise ResultsError(f"{path} is not a hilbench results CSV: it holds NUL bytes "
                           f"(first at character {text.index(chr(0))}); it looks binary")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        raw_rows = list(reader)
    except csv.Error as error:
        raise ResultsError(f"{path} line {reader.line_num}: not valid CSV ({error})") from None
    if not header or "schema_version" not in header:
        raise ResultsError(f"{path} is not a hilbench results CSV (no schema_version column "
                           "in its first line)")
    version_index = header.index("schema_version")
    for line_number, cells in enumerate(raw_rows, start=2):
        version = cells[version_index] if version_index < len(cells) else ""
        if version != str(SCHEMA_VERSION):
            raise ResultsError(
                f"{path} line {line_number}: schema_version is {version or 'empty'}, this "
                f"hilbench reads schema_version {SCHEMA_VERSION}; use the hilbench version "
                "that wrote it, or re-run the benchmark")
    # A file written before LATER_COLUMNS existed is read with them empty.
    if tuple(header) not in (RESULT_COLUMNS, RESULT_COLUMNS[:-len(LATER_COLUMNS)]):
        missing = [c for c in RESULT_COLUMNS if c not in header]
        extra = [c for c in header if c not in RESULT_COLUMNS]
        raise ResultsError(f"{path}: header does not match schema_version {SCHEMA_VERSION} "
                           f"(missing: {', '.join(missing) or 'none'}; unexpected: "
                           f"{', '.join(extra) or 'none'}; or the order differs)")
    rows = []
    for line_number, cells in enumerate(raw_rows, start=2):
        where = f"{path} line {line_number}"
        if len(cells) != len(header):
            raise ResultsError(f"{where}: {len(cells)} cells, expected {len(header)}")
        row = {c: decode_cell(c, cell, where) for c, cell in zip(header, cells)}
        rows.append(validate_stored_row(row, where))
    return rows
