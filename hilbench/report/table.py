"""Terminal table of result rows (pytest summary, CLI output)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from hilbench.report.figures import FIGURES

# Text columns first, then figures. Optional figures appear only when some row has them, so
# a run without cloud or footprint numbers gets a narrow table.
TEXT_COLUMNS = (("board", "board"), ("mode", "mode"), ("model", "model"),
                ("runtime", "runtime"))
ALWAYS_SHOWN = ("latency_ms_p50", "latency_ms_p90", "energy_uj", "accuracy", "accuracy_delta")
SHOWN_WHEN_PRESENT = ("cycles_per_inference", "bitexact_rate", "flash_bytes", "ram_bytes",
                      "cloud_latency_ms")
FIGURE_ORDER = ("latency_ms_p50", "latency_ms_p90", "cycles_per_inference", "energy_uj",
                "accuracy", "accuracy_delta", "bitexact_rate", "flash_bytes", "ram_bytes",
                "cloud_latency_ms")


def format_text_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table with left-aligned columns under a dashed rule; None shows as empty."""
    text_rows = [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in text_rows]) for i, header in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in text_rows]
    return "\n".join(lines)


def _header(column: str) -> str:
    figure = FIGURES[column]
    return f"{figure.title} [{figure.unit}]" if figure.unit else figure.title


def format_results_table(rows: Sequence[Mapping[str, object]]) -> str:
    """Aligned plain-text table of result rows, units in headers, labels in cells.

    A figure prints with its unit and where it came from, e.g. "12.35 ms (icount)" or
    "45.10 uJ (model)"; "-" marks a figure that was not measured.
    """
    if not rows:
        return "(no results)"
    figures = [c for c in FIGURE_ORDER
               if c in ALWAYS_SHOWN or any(row.get(c) is not None for row in rows)]
    headers = [title for _, title in TEXT_COLUMNS] + [_header(c) for c in figures]
    body = [[str(row.get(column) or "-") for column, _ in TEXT_COLUMNS]
            + [FIGURES[c].text(row) for c in figures] for row in rows]
    widths = [max(len(line[i]) for line in [headers] + body) for i in range(len(headers))]
    text_count = len(TEXT_COLUMNS)

    def render(cells: list[str]) -> str:
        # Text is left-aligned, figures right-aligned so their magnitudes are easy to compare.
        parts = [cell.ljust(width) if i < text_count else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    lines = [render(headers), "  ".join("-" * width for width in widths)]
    lines += [render(cells) for cells in body]
    modes = sorted({str(row.get("mode")) for row in rows} - {"hardware"})
    if modes:
        lines.append(f"note: {', '.join(modes)} rows are not measured on hardware; "
                     "(icount) and (model) figures are estimates")
    return "\n".join(lines)
