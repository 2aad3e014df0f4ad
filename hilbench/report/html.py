"""`hilbench report`: one self-contained HTML file with tables and inline SVG plots.

No scripts, fonts or images are fetched: the file opens offline and can be attached to a CI
run as is. Every figure shows its labels (mode, latency_source, energy_source) in the tables,
the plot legends and the tooltips; estimates (emulated, host, modeled) are drawn hatched.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

import hilbench
from hilbench.record.atomic import atomic_write_text
from hilbench.record.provenance import utc_now_iso
from hilbench.record.rows import ResultsError, Row, row_key
from hilbench.record.store import add_results_dir_argument, default_results_root, list_runs, load_results
from hilbench.report.figures import FIGURES
from hilbench.report.leaderboard import LEADERBOARD_CSV, latest_rows
from hilbench.report.svg import bar_chart, board_colours, edge_cloud_chart, is_estimate, \
    scatter_energy_latency, scatter_predicted_published

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; }
.meta, .note { color: #555; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e4e4e4; text-align: left;
         white-space: nowrap; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.hb-estimate td { background: repeating-linear-gradient(45deg, #fff, #fff 6px,
                    #f3f3f3 6px, #f3f3f3 12px); }
td.estimate { font-style: italic; }
.label { display: inline-block; padding: 0 5px; border-radius: 3px; font-size: 12px; }
.label-hardware { background: #d9f0d9; } .label-emulated { background: #fde8c8; }
.label-host { background: #e6e0f4; }
.scroll { overflow-x: auto; }
svg.hb-chart { display: block; margin: 0.5em 0 1em; max-width: 100%; height: auto; }
"""

TABLE_FIGURES = ("latency_ms_p50", "latency_ms_p90", "cycles_per_inference", "energy_uj",
                 "accuracy", "accuracy_float", "accuracy_delta", "bitexact_rate",
                 "flash_bytes", "ram_bytes")
CLOUD_FIGURES = ("latency_ms_p50", "cloud_latency_ms", "bytes_on_air_edge",
                 "bytes_on_air_cloud", "energy_uj", "accuracy", "accuracy_float")


def _label(value: str) -> str:
    return f'<span class="label label-{escape(value)}">{escape(value or "-")}</span>'


def _table(rows: Sequence[Mapping[str, object]], figures: Sequence[str], table_id: str) -> str:
    figures = [c for c in figures if any(row.get(c) is not None for row in rows)]
    header = ["board", "model", "runtime", "mode", "latency_source", "energy_source"]
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    head += "".join(f"<th>{escape(FIGURES[c].title)}"
                    f"{' [' + escape(FIGURES[c].unit) + ']' if FIGURES[c].unit else ''}</th>"
                    for c in figures)
    body = []
    for row in rows:
        estimate = row["mode"] != "hardware"
        cells = [f"<td>{escape(str(row[c]))}</td>" for c in ("board", "model", "runtime")]
        cells.append(f"<td>{_label(str(row['mode']))}</td>")
        cells += [f"<td>{escape(str(row.get(c) or '-'))}</td>"
                  for c in ("latency_source", "energy_source")]
        for column in figures:
            klass = "num estimate" if is_estimate(row, column) else "num"
            tooltip = (f"{FIGURES[column].title}: {FIGURES[column].text(row)}; "
                       f"mode {row['mode']}")
            # The unit is in the header and the label in its own column; the tooltip has both.
            cells.append(f'<td class="{klass}" title="{escape(tooltip)}">'
                         f"{escape(FIGURES[column].number_text(row.get(column)))}</td>")
        body.append(f'<tr class="{"hb-estimate" if estimate else "hb-hardware"}">'
                    f"{''.join(cells)}</tr>")
    return (f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _latency_section(rows: Sequence[Row], colours: Mapping[str, str]) -> str:
    measured = [row for row in rows if row.get("latency_ms_p50") is not None]
    if not measured:
        return '<p class="note">No latency was measured.</p>'
    charts = []
    for index, model in enumerate(sorted({str(row["model"]) for row in measured})):
        model_rows = [row for row in measured if row["model"] == model]
        charts.append(bar_chart(f"latency-{index}", model_rows, "latency_ms_p50", colours,
                                whisker_column="latency_ms_p90", title=f"model {model}"))
    return ('<p class="note">Bar: latency p50; whisker: p90. The label after each value says '
            "how it was timed (device-timer, icount or host-clock).</p>" + "".join(charts))


def _energy_section(rows: Sequence[Row], colours: Mapping[str, str]) -> str:
    if not any(row.get("energy_uj") and row.get("latency_ms_p50") for row in rows):
        return '<p class="note">No energy was measured (energy_source empty in every row).</p>'
    return scatter_energy_latency("energy-latency", rows, colours)


def _accuracy_section(rows: Sequence[Row], colours: Mapping[str, str]) -> str:
    measured = [row for row in rows if row.get("accuracy_delta") is not None]
    if not measured:
        return '<p class="note">No accuracy delta was measured.</p>'
    return ('<p class="note">Device accuracy minus float-model accuracy, in percentage points '
            "(0 = the int8 model on the device is as accurate as the float model).</p>"
            + bar_chart("accuracy-delta", measured, "accuracy_delta", colours,
                        label_of=lambda r: f"{r['board']} · {r['model']} · {r['mode']}"))


def _cloud_section(rows: Sequence[Row], colours: Mapping[str, str]) -> str:
    with_cloud = [row for row in rows if row.get("cloud_latency_ms") is not None]
    if not with_cloud:
        return ""
    chart = ""
    if any(row.get("latency_ms_p50") is not None for row in with_cloud):
        chart = edge_cloud_chart("edge-cloud", with_cloud, colours)
    return ("<h2>Edge vs cloud</h2><p class=\"note\">Edge: on-device inference latency p50, "
            "with its label. Cloud (dashed, label host-clock+model): the measured round trip "
            "p50 to an inference server running the float model on the same test vectors, plus "
            "the network time modeled from a network profile (the network of each run is in "
            "its edge_vs_cloud.json; `hilbench edge-vs-cloud` prints every profile). Bytes on "
            "air are modeled: the result only on the edge, the raw input plus protocol overhead "
            "for the cloud.</p>"
            + chart + _table(with_cloud, CLOUD_FIGURES, "edge-cloud-table"))


EDGE_CLOUD_CELLS = (("accuracy", "accuracy_source", "{:.4f}"),
                    ("latency_ms_p50", "latency_source", "{:.3f}"),
                    ("energy_uj", "energy_source", "{:.1f}"),
                    ("bytes_on_air", "bytes_on_air_source", "{:.0f}"))


def _labelled_cell(value: object, label: str, pattern: str) -> str:
    if value is None:
        return "<td>-</td>"
    text = pattern.format(value)
    return (f'<td class="num" title="{escape(label)}">{escape(text)} '
            f'<span class="note">({escape(label or "unlabelled")})</span></td>')


def edge_cloud_networks_section(comparisons: Sequence[Mapping], rows: Sequence[Row]) -> str:
    """The per-network edge-versus-cloud table of the runs the rows came from.

    ``comparisons`` are run folders' edge_vs_cloud.json documents (hilbench edge-vs-cloud);
    only their lines for a board and model whose row in ``rows`` is from that same run are
    shown, so the table matches the figures above it.
    """
    shown = {(str(row["run_id"]), str(row["board"]), str(row["model"])) for row in rows
             if row.get("cloud_latency_ms") is not None}
    lines = [line for document in comparisons for line in document.get("rows", ())
             if (document.get("run_id"), line["board"], line["model"]) in shown]
    if not lines:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in (
        "model", "board", "side", "network", "accuracy", "latency p50 [ms]",
        "device energy/inference [uJ]", "bytes on air [B]"))
    body = []
    for line in lines:
        side = line["side"] if line["side"] == "cloud" else f"{line['side']} [{line['mode']}]"
        cells = [f"<td>{escape(str(text))}</td>"
                 for text in (line["model"], line["board"], side, line["network"] or "-")]
        cells += [_labelled_cell(line[value], line[label], pattern)
                  for value, label, pattern in EDGE_CLOUD_CELLS]
        body.append(f'<tr class="hb-estimate">{"".join(cells)}</tr>' if line["side"] == "cloud"
                    or line["mode"] != "hardware" else f"<tr>{''.join(cells)}</tr>")
    networks = ", ".join(sorted({f"{d.get('run_id')}: {d.get('result_columns_network')}"
                                  for d in comparisons}))
    return ("<h3>Per network profile</h3><p class=\"note\">Every network profile of "
            "<code>hilbench edge-vs-cloud</code>. The cloud side's device energy is the modeled "
            "radio energy to send the raw input (a lower bound); network time and bytes on air "
            "are modeled (label <code>model</code>). The result columns above use one network "
            f"per run ({escape(networks)}).</p>"
            f'<div class="scroll"><table id="edge-cloud-networks"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def reality_section(catalog) -> str:
    """Twin predictions beside published hardware results (hilbench.calibration.reality), and
    the cross-validated predictions against published latency, log-log with y = x."""
    from hilbench.calibration import cpi_fit, reality
    from hilbench.calibration.cli import calibrate
    from hilbench.calibration.published import (PROVENANCE, load_published, load_runtime_counts,
                                                load_tflm_counts)

    long = reality.reality_check(catalog, load_published(), load_tflm_counts(),
                                 load_runtime_counts())
    table = reality.reality_table(long).reset_index()
    validated = calibrate()
    median, count = cpi_fit.median_abs_error(validated[validated["catalog_board"] != ""])
    points = reality.prediction_points(validated)
    labels = long[long["what"].str.startswith("twin")][["board", "model", "what", "label", "source"]]
    published = long[long["what"].str.startswith("published")][
        ["board", "model", "what", "round", "latency_ms", "label", "source"]]
    return f"""<h2>Reality check: twins against published hardware</h2>
<p class="note">Twin predictions (estimates: instructions x CPI / clock, labelled icount) beside
MLPerf Tiny results published for real boards, fastest per software with its round, in ms.
The TFLM + CMSIS-NN prediction uses the Cortex-M4 instruction count as a proxy on the Cortex-M7
and M33. Data and sources: {escape(PROVENANCE)}.</p>
<div class="scroll">{table.to_html(index=False, table_id="reality-table", border=0)}</div>
<h3>Twin predictions against published latency</h3>
<p class="note">Each CMSIS-NN result predicted with the CPI fitted on the board's other models
(leave-one-model-out): median absolute error {median:.1f}% over {count} pairs on catalog
boards. Dashed: y = x.</p>
{scatter_predicted_published("predicted-published", points)}
<details><summary>How each prediction was made</summary><div class="scroll">
{labels.to_html(index=False, table_id="reality-labels", border=0)}</div></details>
<details><summary>Published results and their sources</summary><div class="scroll">
{published.to_html(index=False, table_id="reality-sources", border=0, na_rep="-",
                   float_format=lambda value: f"{value:.6g}")}</div></details>
"""


def render_report(rows: Sequence[Row], title: str, sources: Sequence[str],
                  comparisons: Sequence[Mapping] = (), catalog=None) -> str:
    """The report page as a string (rows: one per board x model x runtime x mode).

    ``comparisons``: edge_vs_cloud.json documents of the runs, for the per-network table.
    ``catalog``: the boards whose twins the reality check shows (default: the shipped catalog).
    """
    from hilbench.boards import load_boards

    catalog = catalog or load_boards()   # the catalog and ./hilbench.yaml, as every command
    if not rows:
        raise ResultsError("no result rows to report; run the benchmark first")
    rows = sorted(rows, key=row_key)
    colours = board_colours(rows)
    modes = sorted({str(row["mode"]) for row in rows})
    run_ids = sorted({str(row["run_id"]) for row in rows})
    estimate_note = ""
    if any(row["mode"] != "hardware" for row in rows):
        estimate_note = ('<p class="note">Hatched rows, bars and markers are estimates: '
                         "emulated (QEMU instruction count) or host figures, and modeled "
                         "energy (board power profile x time). They are not hardware "
                         "measurements.</p>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="meta">Generated {escape(utc_now_iso())} by hilbench {escape(hilbench.__version__)}
from {escape(', '.join(sources))}; runs: {escape(', '.join(run_ids))};
modes: {''.join(_label(m) for m in modes)}</p>
{estimate_note}
<h2>Results</h2>
{_table(rows, TABLE_FIGURES, "results-table")}
<h2>Latency per board and model</h2>
{_latency_section(rows, colours)}
<h2>Energy vs latency</h2>
{_energy_section(rows, colours)}
<h2>Accuracy delta</h2>
{_accuracy_section(rows, colours)}
{_cloud_section(rows, colours)}
{edge_cloud_networks_section(comparisons, rows)}
{reality_section(catalog)}
</body></html>
"""


def write_report(rows: Sequence[Row], output: Path, title: str,
                 sources: Sequence[str], comparisons: Sequence[Mapping] = ()) -> None:
    """Write the report page to ``output`` atomically."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, render_report(rows, title, sources, comparisons))


def find_comparisons(rows: Sequence[Row], run_folders: Sequence[Path]) -> list[dict]:
    """The edge_vs_cloud.json documents of the runs the rows came from, found in the given
    run folders or under RESULTS_DIR/runs/<run_id>/ (run folders are not published)."""
    from hilbench.cloud.run_comparison import read_comparison

    by_run = {Path(folder).name: Path(folder) for folder in run_folders}
    documents = []
    for run_id in sorted({str(row["run_id"]) for row in rows if row.get("cloud_latency_ms") is not None}):
        folder = by_run.get(run_id)
        document = read_comparison(folder) if folder is not None else None
        if document is not None:
            documents.append(document)
    return documents


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `hilbench report`."""
    parser.description = (
        "Write one self-contained HTML report (tables and inline SVG plots, no network): "
        "latency per board and model, energy vs latency, accuracy delta, and edge vs cloud "
        "when cloud figures exist. Several inputs are merged keeping the latest row per "
        "board x model x runtime x mode.")
    parser.epilog = ("examples:\n  hilbench report\n"
                     "  hilbench report results/runs/20261126T183947.123Z-3fa9c1 -o run.html")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("inputs", nargs="*", type=Path, metavar="INPUT",
                        help="run folders or results CSVs (default: RESULTS_DIR/leaderboard.csv)")
    add_results_dir_argument(parser)
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="HTML file to write (default: RESULTS_DIR/report.html)")
    parser.add_argument("--title", default="hilbench results", help="page title")


def cmd_report(args: argparse.Namespace) -> int:
    """Run `hilbench report`."""
    results_dir = args.results_dir or default_results_root()
    inputs = list(args.inputs) or [results_dir / LEADERBOARD_CSV]
    if not args.inputs and not inputs[0].exists():
        raise ResultsError(f"no leaderboard at {inputs[0]}: run `hilbench leaderboard` first, "
                           "or give run folders / results CSVs to report on")
    result_sets = [load_results(path) for path in inputs]
    rows = latest_rows(row for result_set in result_sets for row in result_set.rows)
    output = args.output or results_dir / "report.html"
    run_folders = [path for path in inputs if path.is_dir()] + list_runs(results_dir)
    write_report(rows, output, args.title, [str(path) for path in inputs],
                 find_comparisons(rows, run_folders))
    print(f"wrote {output} ({len(rows)} rows)")
    return 0
