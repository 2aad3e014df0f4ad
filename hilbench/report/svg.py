"""Inline SVG plots for the HTML report (no JavaScript, no network).

Every mark carries its labels three ways: in its visible text, in a ``<title>`` tooltip and
as data-* attributes. Figures that are not hardware measurements (mode emulated or host,
energy_source model) are drawn hatched with a dashed outline; hardware measurements solid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from hilbench.record.schema import ENERGY_FIGURES
from hilbench.report.figures import FIGURES, format_number

# Okabe-Ito colours: distinguishable with colour-blindness, readable on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
           "#999933")
CLOUD_COLOUR = "#7f7f7f"
WIDTH = 820
LABEL_WIDTH = 250     # left margin for bar names
VALUE_ROOM = 230      # right margin for value + label text
BAR_HEIGHT = 18
BAR_GAP = 8
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def board_colours(rows: Sequence[Mapping[str, object]]) -> dict[str, str]:
    """A fixed colour per board, in sorted board order."""
    boards = sorted({str(row["board"]) for row in rows})
    return {board: PALETTE[i % len(PALETTE)] for i, board in enumerate(boards)}


def is_estimate(row: Mapping[str, object], column: str) -> bool:
    """True when ``column`` of ``row`` was not measured on hardware by an instrument."""
    if column in ENERGY_FIGURES:
        return row.get("energy_source") == "model" or row.get("mode") != "hardware"
    return row.get("mode") != "hardware"


def _attrs(row: Mapping[str, object], **extra: object) -> str:
    data = {"board": row["board"], "model": row["model"], "runtime": row["runtime"],
            "mode": row["mode"], "latency-source": row.get("latency_source") or "",
            "energy-source": row.get("energy_source") or ""}
    data.update({k.replace("_", "-"): v for k, v in extra.items()})
    return " ".join(f'data-{name}="{escape(str(value))}"' for name, value in data.items())


def _tooltip(row: Mapping[str, object], columns: Sequence[str]) -> str:
    lines = [f"{row['board']} / {row['model']} / {row['runtime']}", f"mode: {row['mode']}"]
    lines += [f"{FIGURES[c].title}: {FIGURES[c].text(row)}" for c in columns]
    return f"<title>{escape(chr(10).join(lines))}</title>"


def _pattern_defs(chart_id: str, colours: Mapping[str, str]) -> str:
    """One hatch pattern per board colour, for estimated figures."""
    patterns = []
    for index, colour in enumerate(colours.values()):
        patterns.append(
            f'<pattern id="{chart_id}-hatch-{index}" width="6" height="6" '
            f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            f'<rect width="6" height="6" fill="{colour}" fill-opacity="0.18"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="3"/></pattern>')
    return f"<defs>{''.join(patterns)}</defs>"


def _fill(chart_id: str, colours: Mapping[str, str], board: str, estimate: bool) -> str:
    colour = colours[board]
    if not estimate:
        return f'fill="{colour}" stroke="{colour}"'
    index = list(colours).index(board)
    return f'fill="url(#{chart_id}-hatch-{index})" stroke="{colour}" stroke-dasharray="4 2"'


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round, evenly spaced tick values covering [low, high] and 0."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1.0
    raw_step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step * 0.999)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [i * step for i in range(first, last + 1)]


def tick_text(value: float) -> str:
    """Axis tick text: 0, 250, 1,250, 0.5, 0.001."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.6g}"


def _svg(chart_id: str, height: int, body: str, aria_label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" class="hb-chart" '
            f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
            f'aria-label="{escape(aria_label)}" {FONT}>{body}</svg>')


def _style_legend(y: float, estimate_text: str, rows: Sequence[Mapping[str, object]],
                  label_column: str | None) -> str:
    """Legend of the mark styles, and the labels of the figures in this chart."""
    labels = [f"mode: {', '.join(sorted({str(row['mode']) for row in rows}))}"]
    if label_column:
        values = sorted({str(row.get(label_column) or "-") for row in rows})
        labels.append(f"{label_column}: {', '.join(values)}")
    return (f'<g class="hb-legend" transform="translate({LABEL_WIDTH},{y})">'
            f'<text x="0" y="27" fill="#444">{escape("; ".join(labels))}</text>'
            '<rect width="14" height="10" fill="#555"/>'
            '<text x="20" y="9">hardware measurement</text>'
            '<rect x="170" width="14" height="10" fill="none" stroke="#555" '
            'stroke-dasharray="4 2"/>'
            '<line x1="172" y1="10" x2="182" y2="0" stroke="#555" stroke-width="2"/>'
            f'<text x="190" y="9">{escape(estimate_text)}</text></g>')


def bar_chart(chart_id: str, rows: Sequence[Mapping[str, object]], column: str,
              colours: Mapping[str, str], whisker_column: str | None = None,
              label_of=None, title: str = "") -> str:
    """Horizontal bars of ``column`` per row (zero-based, may be negative), with an optional
    whisker to ``whisker_column`` (e.g. p50 bar with a p90 whisker)."""
    figure = FIGURES[column]
    label_of = label_of or (lambda row: f"{row['board']} · {row['runtime']} · {row['mode']}")
    values = [float(row[column]) * figure.scale for row in rows]
    whiskers = [float(row[whisker_column]) * figure.scale
                if whisker_column and row.get(whisker_column) is not None else None
                for row in rows]
    ticks = nice_ticks(min(values), max(values + [w for w in whiskers if w is not None]))
    span_low, span_high = ticks[0], ticks[-1]
    plot_width = WIDTH - LABEL_WIDTH - VALUE_ROOM

    def x(value: float) -> float:
        return LABEL_WIDTH + (value - span_low) / (span_high - span_low) * plot_width

    top = 24
    height = top + len(rows) * (BAR_HEIGHT + BAR_GAP) + 50
    parts = [_pattern_defs(chart_id, colours)]
    if title:
        parts.append(f'<text x="0" y="14" font-weight="600">{escape(title)}</text>')
    axis_y = top + len(rows) * (BAR_HEIGHT + BAR_GAP)
    for tick in ticks:
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" '
                     f'y2="{axis_y}" stroke="#ddd"/>'
                     f'<text x="{x(tick):.1f}" y="{axis_y + 14}" text-anchor="middle" '
                     f'fill="#444">{escape(tick_text(tick))}</text>')
    parts.append(f'<line x1="{x(0):.1f}" y1="{top - 4}" x2="{x(0):.1f}" y2="{axis_y}" '
                 'stroke="#333"/>')
    parts.append(f'<text x="{LABEL_WIDTH + plot_width / 2:.1f}" y="{axis_y + 30}" '
                 f'text-anchor="middle" fill="#444">{escape(figure.title)} '
                 f'[{escape(figure.unit)}]</text>')
    for index, (row, value, whisker) in enumerate(zip(rows, values, whiskers)):
        y = top + index * (BAR_HEIGHT + BAR_GAP)
        start, end = sorted((x(0), x(value)))
        estimate = is_estimate(row, column)
        tooltip = _tooltip(row, [c for c in (column, whisker_column) if c])
        text = FIGURES[column].text(row)
        if whisker is not None:
            text += f", p90 {format_number(whisker)}"
        parts.append(
            f'<g class="hb-mark hb-bar{" hb-estimate" if estimate else ""}" '
            f'{_attrs(row, figure=column, value=row[column])}>{tooltip}'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 13}" text-anchor="end">'
            f'{escape(label_of(row))}</text>'
            f'<rect x="{start:.1f}" y="{y}" width="{max(end - start, 1):.1f}" '
            f'height="{BAR_HEIGHT}" {_fill(chart_id, colours, str(row["board"]), estimate)}/>')
        text_x = max(end, x(whisker) if whisker is not None else end) + 6
        if whisker is not None:
            parts.append(f'<line class="hb-whisker" x1="{x(value):.1f}" y1="{y + 9}" '
                         f'x2="{x(whisker):.1f}" y2="{y + 9}" stroke="#222"/>'
                         f'<line x1="{x(whisker):.1f}" y1="{y + 4}" x2="{x(whisker):.1f}" '
                         f'y2="{y + 14}" stroke="#222"/>')
        parts.append(f'<text x="{text_x:.1f}" y="{y + 13}" fill="#222">{escape(text)}</text>'
                     '</g>')
    parts.append(_style_legend(axis_y + 38, "emulated / host: estimate, not hardware", rows,
                               figure.label_column()))
    return _svg(chart_id, height + 28, "".join(parts), title or figure.title)


ENERGY_MARKERS = {"probe": "circle", "capture": "square", "model": "diamond"}


def _marker(shape: str, cx: float, cy: float, style: str) -> str:
    if shape == "circle":
        return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" {style}/>'
    if shape == "square":
        return f'<rect x="{cx - 5.5:.1f}" y="{cy - 5.5:.1f}" width="11" height="11" {style}/>'
    return (f'<polygon points="{cx:.1f},{cy - 7:.1f} {cx + 7:.1f},{cy:.1f} {cx:.1f},'
            f'{cy + 7:.1f} {cx - 7:.1f},{cy:.1f}" {style}/>')


def _log_axis(values: Sequence[float]) -> tuple[float, float]:
    low = math.floor(math.log10(min(values)))
    high = math.ceil(math.log10(max(values)))
    return low, high if high > low else low + 1


def _log_log_frame(x_values: Sequence[float], y_values: Sequence[float], x_label: str,
                   y_label: str, left: int = 80, top: int = 20, plot_width: int = WIDTH - 380,
                   plot_height: int = 320, same_scale: bool = False):
    """Axes, decade grid and labels of a log-log plot: (svg parts, x(value), y(value)).

    ``same_scale`` gives both axes the same decades (for predicted-against-measured plots)."""
    x_low, x_high = _log_axis(x_values)
    y_low, y_high = _log_axis(y_values)
    if same_scale:
        x_low = y_low = min(x_low, y_low)
        x_high = y_high = max(x_high, y_high)

    def x(value: float) -> float:
        return left + (math.log10(value) - x_low) / (x_high - x_low) * plot_width

    def y(value: float) -> float:
        return top + plot_height - (math.log10(value) - y_low) / (y_high - y_low) * plot_height

    parts = [f'<rect x="{left}" y="{top}" width="{plot_width}" height="{plot_height}" '
             'fill="none" stroke="#999"/>']
    for exponent in range(int(x_low), int(x_high) + 1):
        position = x(10.0 ** exponent)
        parts.append(f'<line x1="{position:.1f}" y1="{top}" x2="{position:.1f}" '
                     f'y2="{top + plot_height}" stroke="#eee"/><text x="{position:.1f}" '
                     f'y="{top + plot_height + 16}" text-anchor="middle" fill="#444">'
                     f'{tick_text(10.0 ** exponent)}</text>')
    for exponent in range(int(y_low), int(y_high) + 1):
        position = y(10.0 ** exponent)
        parts.append(f'<line x1="{left}" y1="{position:.1f}" x2="{left + plot_width}" '
                     f'y2="{position:.1f}" stroke="#eee"/><text x="{left - 6}" '
                     f'y="{position + 4:.1f}" text-anchor="end" fill="#444">'
                     f'{tick_text(10.0 ** exponent)}</text>')
    parts.append(f'<text x="{left + plot_width / 2}" y="{top + plot_height + 36}" '
                 f'text-anchor="middle" fill="#444">{escape(x_label)}</text>'
                 f'<text transform="translate(16,{top + plot_height / 2}) rotate(-90)" '
                 f'text-anchor="middle" fill="#444">{escape(y_label)}</text>')
    return parts, x, y


def _point_legend(x: float, y: float, colours: Mapping[str, str],
                  markers: Sequence[tuple[str, str, str]], note: str) -> tuple[str, int]:
    """A scatter plot's legend: a swatch per board colour, then (shape, style, text) per marker
    kind, then a note. Returns the SVG group and how many lines it takes."""
    legend = [f'<g class="hb-legend" transform="translate({x},{y})">']
    line = 0
    for board, colour in colours.items():
        legend.append(f'<rect x="0" y="{line * 18}" width="12" height="12" fill="{colour}"/>'
                      f'<text x="18" y="{line * 18 + 10}">{escape(board)}</text>')
        line += 1
    line += 1
    for shape, style, text in markers:
        legend.append(_marker(shape, 6, line * 18 + 6, style)
                      + f'<text x="18" y="{line * 18 + 10}">{escape(text)}</text>')
        line += 1
    legend.append(f'<text x="0" y="{line * 18 + 14}" fill="#444">{escape(note)}</text></g>')
    return "".join(legend), line


def scatter_energy_latency(chart_id: str, rows: Sequence[Mapping[str, object]],
                           colours: Mapping[str, str]) -> str:
    """Energy per inference against latency p50, log-log, marker shape = energy_source."""
    rows = [row for row in rows if row.get("energy_uj") is not None
            and row.get("latency_ms_p50") is not None
            and row["energy_uj"] > 0 and row["latency_ms_p50"] > 0]
    left, top, plot_width, plot_height = 80, 20, WIDTH - 80 - 300, 320
    parts, x, y = _log_log_frame([float(r["latency_ms_p50"]) for r in rows],
                                 [float(r["energy_uj"]) for r in rows],
                                 "latency p50 [ms] (log)", "energy per inference [uJ] (log)",
                                 left, top, plot_width, plot_height)
    for row in rows:
        estimate = is_estimate(row, "energy_uj")
        shape = ENERGY_MARKERS[str(row["energy_source"])]
        colour = colours[str(row["board"])]
        # A hatch does not read on a 12 px marker: estimates are hollow with a dashed rim.
        style = (f'fill="#fff" fill-opacity="0.7" stroke="{colour}" stroke-width="2" '
                 'stroke-dasharray="3 2"' if estimate
                 else f'fill="{colour}" stroke="{colour}" stroke-width="1.5"')
        parts.append(
            f'<g class="hb-mark hb-point{" hb-estimate" if estimate else ""}" '
            f'{_attrs(row, value=row["energy_uj"])}>'
            f'{_tooltip(row, ["latency_ms_p50", "energy_uj"])}'
            f'{_marker(shape, x(float(row["latency_ms_p50"])), y(float(row["energy_uj"])), style)}'
            '</g>')
    shown = {board: colour for board, colour in colours.items()
             if any(str(r["board"]) == board for r in rows)}
    markers = [(shape, 'fill="none" stroke="#555" stroke-dasharray="4 2"' if source == "model"
                else 'fill="#555" stroke="#555"',
                f"energy_source {source}{' (estimate)' if source == 'model' else ''}")
               for source, shape in ENERGY_MARKERS.items()]
    legend, lines = _point_legend(left + plot_width + 20, top + 6, shown, markers,
                                  "hollow, dashed: emulated, host or modeled")
    parts.append(legend)
    height = max(top + plot_height + 50, top + 6 + lines * 18 + 30)
    return _svg(chart_id, height, "".join(parts), "energy per inference vs latency")


def edge_cloud_chart(chart_id: str, rows: Sequence[Mapping[str, object]],
                     colours: Mapping[str, str]) -> str:
    """Paired bars per row: edge latency p50 (board colour) and cloud latency (grey)."""
    rows = [row for row in rows if row.get("cloud_latency_ms") is not None
            and row.get("latency_ms_p50") is not None]
    high = max(max(float(r["latency_ms_p50"]), float(r["cloud_latency_ms"])) for r in rows)
    ticks = nice_ticks(0.0, high)
    plot_width = WIDTH - LABEL_WIDTH - VALUE_ROOM
    pair_height = 2 * BAR_HEIGHT + BAR_GAP + 4

    def x(value: float) -> float:
        return LABEL_WIDTH + value / ticks[-1] * plot_width

    top = 10
    axis_y = top + len(rows) * pair_height
    parts = [_pattern_defs(chart_id, colours)]
    for tick in ticks:
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{axis_y}" '
                     f'stroke="#ddd"/><text x="{x(tick):.1f}" y="{axis_y + 14}" '
                     f'text-anchor="middle" fill="#444">{tick_text(tick)}</text>')
    parts.append(f'<text x="{LABEL_WIDTH + plot_width / 2:.1f}" y="{axis_y + 30}" '
                 'text-anchor="middle" fill="#444">latency [ms]</text>')
    for index, row in enumerate(rows):
        y = top + index * pair_height
        estimate = is_estimate(row, "latency_ms_p50")
        edge, cloud = float(row["latency_ms_p50"]), float(row["cloud_latency_ms"])
        parts.append(
            f'<g class="hb-mark hb-bar hb-edge{" hb-estimate" if estimate else ""}" '
            f'{_attrs(row, figure="latency_ms_p50", value=edge)}>'
            f'{_tooltip(row, ["latency_ms_p50", "cloud_latency_ms"])}'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 13}" text-anchor="end">'
            f'{escape(str(row["board"]))} · {escape(str(row["model"]))} (edge)</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{max(x(edge) - LABEL_WIDTH, 1):.1f}" '
            f'height="{BAR_HEIGHT}" {_fill(chart_id, colours, str(row["board"]), estimate)}/>'
            f'<text x="{x(edge) + 6:.1f}" y="{y + 13}">'
            f'{escape(FIGURES["latency_ms_p50"].text(row))}</text></g>'
            '<g class="hb-mark hb-bar hb-cloud" '
            f'{_attrs(row, figure="cloud_latency_ms", value=cloud)}>'
            f'{_tooltip(row, ["cloud_latency_ms"])}'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT + 15}" text-anchor="end">cloud'
            '</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + BAR_HEIGHT + 2}" '
            f'width="{max(x(cloud) - LABEL_WIDTH, 1):.1f}" height="{BAR_HEIGHT}" '
            # Dashed: part of the cloud latency (the network time) is modeled, not measured.
            f'fill="{CLOUD_COLOUR}" stroke="#555" stroke-dasharray="4 2"/>'
            f'<text x="{x(cloud) + 6:.1f}" y="{y + BAR_HEIGHT + 15}">'
            f'{escape(FIGURES["cloud_latency_ms"].text(row))}</text></g>')
    parts.append(_style_legend(axis_y + 38, "emulated / host edge figure: estimate", rows,
                               "latency_source"))
    return _svg(chart_id, axis_y + 78, "".join(parts), "edge vs cloud latency")


PREDICTION_MARKERS = ("circle", "square", "diamond")


def scatter_predicted_published(chart_id: str, points: Sequence[Mapping[str, object]]) -> str:
    """Twin predictions against published hardware latency, log-log, with the y = x line.

    Each point: ``predicted_ms``, ``published_ms``, ``board``, ``family`` (marker shape),
    ``title`` (tooltip). Predictions are estimates: hollow, dashed markers."""
    points = [p for p in points
              if (p.get("predicted_ms") or 0) > 0 and (p.get("published_ms") or 0) > 0]
    left, top, plot_width, plot_height = 80, 20, 360, 360
    parts, x, y = _log_log_frame([float(p["published_ms"]) for p in points],
                                 [float(p["predicted_ms"]) for p in points],
                                 "published hardware latency [ms] (log)",
                                 "twin prediction [ms] (log)", left, top, plot_width,
                                 plot_height, same_scale=True)
    # both axes span the same decades in a square frame: y = x is the diagonal
    parts.append(f'<line class="hb-identity" x1="{left}" y1="{top + plot_height}" '
                 f'x2="{left + plot_width}" y2="{top}" stroke="#555" stroke-dasharray="6 3"/>'
                 f'<text x="{left + plot_width - 4}" y="{top + 14}" text-anchor="end" '
                 'fill="#555">y = x</text>')
    boards = sorted({str(p["board"]) for p in points})
    colours = {board: PALETTE[i % len(PALETTE)] for i, board in enumerate(boards)}
    families = sorted({str(p["family"]) for p in points})
    shapes = {family: PREDICTION_MARKERS[i % len(PREDICTION_MARKERS)]
              for i, family in enumerate(families)}
    for point in points:
        colour = colours[str(point["board"])]
        style = (f'fill="#fff" fill-opacity="0.7" stroke="{colour}" stroke-width="2" '
                 'stroke-dasharray="3 2"')
        parts.append(
            f'<g class="hb-mark hb-point hb-estimate" data-board="{escape(str(point["board"]))}" '
            'data-mode="emulated" data-latency-source="icount" '
            f'data-predicted-ms="{float(point["predicted_ms"]):.6g}" '
            f'data-published-ms="{float(point["published_ms"]):.6g}">'
            f'<title>{escape(str(point.get("title", "")))}\nmode: emulated (prediction: '
            'icount x CPI); published: hardware</title>'
            + _marker(shapes[str(point["family"])], x(float(point["published_ms"])),
                      y(float(point["predicted_ms"])), style) +
            '</g>')
    markers = [(shape, 'fill="none" stroke="#555"', family) for family, shape in shapes.items()]
    legend, lines = _point_legend(left + plot_width + 20, top + 6, colours, markers,
                                  "hollow, dashed: predictions (icount x CPI, estimates)")
    parts.append(legend)
    height = max(top + plot_height + 50, top + lines * 18 + 40)
    return _svg(chart_id, height, "".join(parts), "twin predictions against published latency")
