"""How each figure of a result row is named, unitised, labelled and printed.

The terminal table, the HTML report and the compare command all print figures through here,
so a figure never appears without its unit and its label (where it came from).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hilbench.record.schema import ENERGY_FIGURES, LATENCY_FIGURES


@dataclass(frozen=True)
class Figure:
    """A measured column of the result row, as people read it."""

    column: str
    title: str            # short human name, e.g. "latency p50"
    unit: str             # printed after the value: "ms", "uJ", "%", "pt", "KiB", ""
    lower_is_better: bool
    scale: float = 1.0    # stored value x scale = printed value (fractions -> %)

    def label_column(self) -> str | None:
        """The row column saying where this figure came from, if it has one."""
        if self.column in LATENCY_FIGURES:
            return "latency_source"
        if self.column in ENERGY_FIGURES:
            return "energy_source"
        return None

    def label(self, row: Mapping[str, object]) -> str:
        """Where this figure came from in ``row`` (e.g. "icount"), "" for unlabelled ones."""
        label_column = self.label_column()
        return str(row.get(label_column) or "") if label_column else ""

    def number_text(self, value: float | int | None) -> str:
        """The value in this figure's unit without the unit, e.g. "12.35"; "-" if missing."""
        if value is None:
            return "-"
        scaled = value if self.scale == 1 else value * self.scale  # counts stay integers
        return format_number(scaled, signed=self.column == "accuracy_delta")

    def value_text(self, value: float | int | None) -> str:
        """The value with its unit, e.g. "12.35 ms"; "-" when not measured."""
        text = self.number_text(value)
        return f"{text} {self.unit}" if self.unit and value is not None else text

    def text(self, row: Mapping[str, object]) -> str:
        """Value, unit and label, e.g. "12.35 ms (icount)" or "45.1 uJ (model)"."""
        value = row.get(self.column)
        if value is None:
            return "-"
        label = self.label(row)
        return f"{self.value_text(value)} ({label})" if label else self.value_text(value)


FIGURES = {figure.column: figure for figure in (
    Figure("latency_ms_p50", "latency p50", "ms", True),
    Figure("latency_ms_p90", "latency p90", "ms", True),
    Figure("cycles_per_inference", "cycles/inference", "", True),
    Figure("energy_uj", "energy/inference", "uJ", True),
    Figure("accuracy", "accuracy", "%", False, 100.0),
    Figure("accuracy_float", "float accuracy", "%", False, 100.0),
    Figure("accuracy_delta", "accuracy delta", "pt", False, 100.0),
    Figure("bitexact_rate", "bit-exact", "%", False, 100.0),
    Figure("flash_bytes", "flash", "KiB", True, 1 / 1024),
    Figure("ram_bytes", "RAM", "KiB", True, 1 / 1024),
    Figure("cloud_latency_ms", "cloud latency", "ms", True),
    Figure("bytes_on_air_edge", "bytes on air (edge)", "B", True),
    Figure("bytes_on_air_cloud", "bytes on air (cloud)", "B", True),
)}


def format_number(value: float | int, signed: bool = False) -> str:
    """Readable without exponents where possible: 0.012, 0.123, 8.10, 12.35, 123.5, 12,346."""
    magnitude = abs(value)
    if isinstance(value, int) or magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.1f}"
    elif magnitude >= 1 or magnitude == 0:
        text = "0" if magnitude == 0 else f"{value:.2f}"
    elif magnitude >= 0.01:
        text = f"{value:.3f}"
    else:
        text = f"{value:.2e}"
    if signed and value > 0:
        text = "+" + text
    return text


def row_title(row: Mapping[str, object]) -> str:
    """The row's identity for messages: board / model / runtime [mode]."""
    return f"{row['board']} / {row['model']} / {row['runtime']} [{row['mode']}]"
