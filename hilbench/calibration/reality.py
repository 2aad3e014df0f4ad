"""The reality check: per catalog board x MLPerf Tiny model, what the twin predicts beside what
was published for real hardware.

For each board with a twin and each of the four models:

- the twin's prediction for hilbench's own runtime: its measured instruction count on that
  twin (``hilbench calibrate --measure-runtime``) x the board's CPI / clock;
- the twin's prediction for TFLite Micro + CMSIS-NN: the TFLM count on the Cortex-M4 twin (a
  proxy for the M7 and M33; none for the M55) x the board's CPI / clock;
- the published hardware latency, by software, with the file it was read from.

Every prediction is labelled with its CPI and whether that CPI is calibrated.
"""

from __future__ import annotations

import pandas as pd

from hilbench.calibration.published import BENCHMARK_MODELS

PROXY_CORES = ("cortex-m4", "cortex-m7", "cortex-m33")
TWIN_HILBENCH = "twin: hilbench runtime"
TWIN_TFLM = "twin: TFLM + CMSIS-NN"


def _cpi_text(board) -> str:
    state = "calibrated" if board.cpi_calibration is not None else "uncalibrated"
    return f"{board.cpi:g} ({state})"


def _cpi_label(board) -> str:
    return f"emulated, icount x cpi {_cpi_text(board)}"


def reality_check(catalog, published: pd.DataFrame, tflm_counts: pd.Series,
                  runtime_counts: pd.DataFrame | None) -> pd.DataFrame:
    """The long table: one line per (board, model, what), with ``latency_ms``, ``label`` (how
    the figure was obtained) and ``source``."""
    lines = []
    for board in catalog.boards.values():
        if board.twin is None or not board.clock_hz:
            continue
        ms_per_instruction = board.cpi / board.clock_hz * 1e3
        for benchmark in BENCHMARK_MODELS:
            common = {"board": board.name, "core": board.core, "model": benchmark,
                      "cpi": _cpi_text(board)}
            counted = None
            if runtime_counts is not None:
                counted = runtime_counts[(runtime_counts["target"] == board.twin.target)
                                         & (runtime_counts["benchmark"] == benchmark)]
            if counted is not None and len(counted):
                measured = counted.iloc[0]
                lines.append({**common, "what": TWIN_HILBENCH, "round": "",
                              "latency_ms": measured["instructions"] * ms_per_instruction,
                              "label": _cpi_label(board),
                              "source": (f"{measured['instructions']:,} instructions on "
                                         f"{board.twin.target}, measured at "
                                         f"{str(measured['git_sha'])[:10]} "
                                         f"({measured['measured_at']})")})
            else:
                lines.append({**common, "what": TWIN_HILBENCH, "round": "", "latency_ms": None,
                              "label": "not measured",
                              "source": "run hilbench calibrate --measure-runtime"})
            proxy = board.core.startswith(PROXY_CORES)
            lines.append({**common, "what": TWIN_TFLM, "round": "",
                          "latency_ms": (tflm_counts[benchmark] * ms_per_instruction
                                         if proxy else None),
                          "label": (_cpi_label(board) + ("" if board.core.startswith("cortex-m4")
                                                         else "; Cortex-M4 count as proxy"))
                          if proxy else f"no proxy: the M4 counts do not stand for {board.core}",
                          "source": f"{tflm_counts[benchmark]:,.0f} TFLM instructions on the "
                                    "Cortex-M4 twin (calibration data)"})
        mine = published[(published["catalog_board"] == board.name)]
        for row in mine.itertuples():
            lines.append({"board": board.name, "core": board.core, "model": row.benchmark,
                          "what": f"published: {row.family}", "round": row.round,
                          "latency_ms": row.latency_ms,
                          "label": f"hardware, {row.submitter} {row.system}",
                          "source": row.source})
    return pd.DataFrame(lines)


def reality_table(long: pd.DataFrame) -> pd.DataFrame:
    """The compact table: one line per board x model, the two twin predictions and, per
    published software, its fastest published latency and round."""
    def cell(group: pd.DataFrame) -> str:
        known = group.dropna(subset=["latency_ms"])
        if known.empty:
            return "-"
        best = known.loc[known["latency_ms"].idxmin()]
        return f"{best['latency_ms']:.3g}" + (f" ({best['round']})" if best["round"] else "")

    cells = (long.groupby(["board", "model", "what"], sort=False)[["latency_ms", "round"]]
             .apply(cell).rename("ms").reset_index())
    table = cells.pivot(index=["board", "model"], columns="what", values="ms")
    cpi = long.dropna(subset=["cpi"]).groupby(["board", "model"])["cpi"].first()
    table.insert(0, "twin cpi", cpi)
    twins = [column for column in ("twin cpi", TWIN_HILBENCH, TWIN_TFLM) if column in table]
    others = sorted(column for column in table if column not in twins)
    order = pd.MultiIndex.from_frame(long[["board", "model"]].drop_duplicates())
    return table.reindex(index=order, columns=twins + others).fillna("-")


def markdown(table: pd.DataFrame) -> str:
    """The compact table as a markdown table (for the README)."""
    header = ["board", "model", *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (board, model), cells in table.iterrows():
        lines.append("| " + " | ".join([board, model, *cells]) + " |")
    return "\n".join(lines)


def prediction_points(validated: pd.DataFrame) -> list[dict]:
    """The cross-validated pairs (cpi_fit.leave_one_model_out) as points for the
    predicted-against-published plot, named by catalog board where there is one."""
    return [{"predicted_ms": pair.predicted_ms, "published_ms": pair.published_ms,
             "board": pair.catalog_board or pair.board, "family": pair.family,
             "title": f"{pair.board} {pair.benchmark}, {pair.family} ({pair.rounds}): predicted "
                      f"{pair.predicted_ms:.3g} ms, published {pair.published_ms:.3g} ms "
                      f"({pair.error_pct:+.1f}%)"}
            for pair in validated.itertuples()]
