"""`hilbench leaderboard`: merge runs into results/leaderboard.csv.

The leaderboard keeps the latest row per board x model x runtime x mode (so a board measured
on hardware and on its emulated twin has two rows, each with its labels), sorted by those
keys. A side file, leaderboard.sources.json, says which runs and modes each row came from.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import hilbench
from hilbench.record.atomic import atomic_write_text
from hilbench.record.provenance import utc_now_iso
from hilbench.record.rows import ResultsError, Row, row_key, write_results_csv
from hilbench.record.schema import MODES, SCHEMA_VERSION
from hilbench.record.store import (ResultSet, add_results_dir_argument, default_results_root, list_runs,
                                   load_results)
from hilbench.report.table import format_results_table

LEADERBOARD_CSV = "leaderboard.csv"


def sources_path(leaderboard_csv: Path) -> Path:
    """The side file describing a leaderboard: leaderboard.csv -> leaderboard.sources.json."""
    leaderboard_csv = Path(leaderboard_csv)
    return leaderboard_csv.with_name(leaderboard_csv.stem + ".sources.json")


def _recency(row: Mapping[str, object]) -> tuple[datetime, str]:
    # validate_row guarantees an ISO 8601 timestamp with a time zone
    return datetime.fromisoformat(str(row["timestamp"])), str(row["run_id"])


def _latest_per_key(tagged: Iterable[tuple[Mapping[str, object], object]]) -> list[tuple]:
    """(row, tag) pairs reduced to the latest row per key, sorted by key."""
    latest: dict[tuple[str, ...], tuple[Mapping[str, object], object]] = {}
    for row, tag in tagged:
        key = row_key(row)
        if key not in latest or _recency(row) > _recency(latest[key][0]):
            latest[key] = (row, tag)
    return [latest[key] for key in sorted(latest)]


def latest_rows(rows: Iterable[Mapping[str, object]]) -> list[Row]:
    """The latest row (by timestamp, then run id) per board x model x runtime x mode.

    Sorted by board, model, runtime, mode, so the same inputs always give the same file.
    """
    return [dict(row) for row, _ in _latest_per_key((row, None) for row in rows)]


def _run_facts(run_id: str, result_set: ResultSet) -> dict:
    """How a run was made, for the sources file: from its provenance.json and edge_vs_cloud.json
    (a run folder), or carried over from the sources file of a leaderboard being merged."""
    if result_set.kind == "run":
        provenance = result_set.provenance or {}
        facts = {key: provenance[key] for key in ("command_line", "git_sha", "started_at")
                 if key in provenance}
        if provenance.get("boards"):
            facts["boards"] = {name: board.get("mode") for name, board in provenance["boards"].items()}
        from hilbench.cloud.run_comparison import read_comparison

        comparison = read_comparison(result_set.source)
        if comparison is not None:
            facts["edge_vs_cloud"] = {
                "network_of_cloud_columns": comparison.get("result_columns_network"),
                "server": (comparison.get("server") or {}).get("software"),
                "git_sha": comparison.get("git_sha"),
                "generated_at": comparison.get("generated_at")}
        return facts
    side_file = sources_path(result_set.source)
    if side_file.is_file():
        try:
            earlier = json.loads(side_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return {}
        for entry in earlier.get("runs") or ():
            if str(entry.get("run_id")) == run_id:
                return {key: value for key, value in entry.items()
                        if key not in ("run_id", "read_from", "modes", "rows")}
    return {}


def build_leaderboard(result_sets: Sequence[ResultSet],
                      modes: Sequence[str] | None = None) -> tuple[list[Row], dict]:
    """Merge result sets into leaderboard rows, and describe where each row came from."""
    kept = _latest_per_key((row, result_set) for result_set in result_sets
                           for row in result_set.rows if not modes or row["mode"] in modes)
    runs: dict[str, dict] = {}
    for row, result_set in kept:
        run_id = str(row["run_id"])
        if run_id not in runs:
            runs[run_id] = {"run_id": row["run_id"], "read_from": str(result_set.source),
                            "modes": set(), "rows": 0, **_run_facts(run_id, result_set)}
        runs[run_id]["modes"].add(row["mode"])
        runs[run_id]["rows"] += 1
    rows = [dict(row) for row, _ in kept]
    sources = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": utc_now_iso(),
        "hilbench_version": hilbench.__version__,
        "inputs": [str(result_set.source) for result_set in result_sets],
        "mode_filter": list(modes) if modes else None,
        "rows": len(rows),
        "modes": sorted({str(row["mode"]) for row in rows}),
        "runs": [dict(entry, modes=sorted(entry["modes"])) for _, entry in sorted(runs.items())],
    }
    return rows, sources


def write_leaderboard(rows: Sequence[Mapping[str, object]], sources: Mapping,
                      output: Path) -> None:
    """Write the leaderboard CSV (neutralised against spreadsheet formulas) and its side file."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_results_csv(output, rows)
    atomic_write_text(sources_path(output), json.dumps(sources, indent=2) + "\n")


def add_leaderboard_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `hilbench leaderboard`."""
    parser.description = (
        "Merge benchmark runs into a leaderboard CSV: the latest row per board x model x "
        "runtime x mode, sorted, with the result-row columns and labels. Without INPUTs it "
        "merges the existing leaderboard with every run under RESULTS_DIR/runs/. Also writes "
        "<output>.sources.json naming the runs and modes each row came from.")
    parser.epilog = ("examples:\n  hilbench leaderboard\n"
                     "  hilbench leaderboard results/runs/20261126T183947.123Z-3fa9c1 "
                     "--mode hardware -o lab-leaderboard.csv")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("inputs", nargs="*", type=Path, metavar="INPUT",
                        help="run folders or results CSVs (a leaderboard too) to merge")
    add_results_dir_argument(parser)
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="leaderboard CSV to write (default: RESULTS_DIR/leaderboard.csv)")
    parser.add_argument("--mode", action="append", choices=MODES, default=None,
                        help="keep only rows of this mode (repeatable; default: all modes)")


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Run `hilbench leaderboard`; prints the table and where it was written."""
    results_dir = args.results_dir or default_results_root()
    output = args.output or results_dir / LEADERBOARD_CSV
    inputs = list(args.inputs)
    if not inputs:
        # Run folders first: on a tie (a row already in the leaderboard) the run is cited.
        inputs = list_runs(results_dir) + ([output] if output.exists() else [])
    if not inputs:
        raise ResultsError(f"nothing to merge: no leaderboard at {output} and no runs under "
                           f"{results_dir}/runs/; run the benchmark first (pytest --board=B)")
    rows, sources = build_leaderboard([load_results(path) for path in inputs], args.mode)
    write_leaderboard(rows, sources, output)
    print(format_results_table(rows))
    print(f"wrote {output}: {len(rows)} row(s) from {len(sources['runs'])} run(s); "
          f"sources in {sources_path(output)}")
    return 0
