"""`hilbench leaderboard`: merge runs into results/leaderboard.csv.

The leaderboard keeps the latest row per board x model x runtime x mode (so a board measured
on hardware and on its emulated twin has two rows, each with its labels), sorted by those
keys. A side file, leaderboard.sources.json, says which runs and modes each row came from.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

import hilbench
from hilbench.record.atomic import atomic_write_text
from hilbench.record.provenance import utc_now_iso
from hilbench.record.rows import ResultsError, Row, row_key, write_results_csv
from hilbench.record.schema import KEY_COLUMNS, LATENCY_FIGURES, MODES, SCHEMA_VERSION
from hilbench.record.store import (ResultSet, add_results_dir_argument, default_results_root, list_runs,
                                   load_results)
from hilbench.report.table import format_results_table

LEADERBOARD_CSV = "leaderboard.csv"


def sources_path(leaderboard_csv: Path) -> Path:
    """The side file describing a leaderboard: leaderboard.csv -> leaderboard.sources.json."""
    leaderboard_csv = Path(leaderboard_csv)
    return leaderboard_csv.with_name(leaderboard_csv.stem + ".sources.json")


def _rows_frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """The columns that order and identify rows, one line per row, ``position`` = its index."""
    frame = pd.DataFrame({column: [str(row[column]) for row in rows]
                          for column in (*KEY_COLUMNS, "run_id")})
    # validate_row guarantees ISO 8601 timestamps with a time zone; compare them in UTC
    frame["when"] = pd.to_datetime([str(row["timestamp"]) for row in rows], utc=True,
                                   format="ISO8601")
    frame["position"] = range(len(rows))
    return frame


def _latest_per_key(tagged: Iterable[tuple[Mapping[str, object], object]]) -> list[tuple]:
    """(row, tag) pairs reduced to the latest row (timestamp, then run id) per key, sorted by
    key. On a tie the pair given first wins."""
    tagged = list(tagged)
    if not tagged:
        return []
    frame = _rows_frame([row for row, _ in tagged])
    ordered = frame.sort_values(["when", "run_id", "position"], ascending=[True, True, False])
    latest = ordered.drop_duplicates(list(KEY_COLUMNS), keep="last").sort_values(list(KEY_COLUMNS))
    return [tagged[position] for position in latest["position"]]


def latest_rows(rows: Iterable[Mapping[str, object]]) -> list[Row]:
    """The latest row (by timestamp, then run id) per board x model x runtime x mode.

    Sorted by board, model, runtime, mode, so the same inputs always give the same file.
    """
    return [dict(row) for row, _ in _latest_per_key((row, None) for row in rows)]


def check_mergeable(result_sets: Sequence[ResultSet]) -> None:
    """Refuse rows that would make a wrong leaderboard, naming the file and the row:

    - a latency of 0 (a timer that never ran is no measurement);
    - one run with two rows for the same board x model x runtime x mode, within a file, or
      across inputs with different figures (the same row read from a run folder and from an
      earlier leaderboard is fine).
    """
    rows = [(row, index) for index, result_set in enumerate(result_sets) for row in result_set.rows]
    for row, index in rows:
        for column in LATENCY_FIGURES:
            if row.get(column) == 0:
                raise ResultsError(
                    f"{result_sets[index].source}: {'/'.join(row_key(row))} (run {row['run_id']}) "
                    f"has {column} 0; a zero latency is not a measurement: re-run it or remove "
                    "the row")
    if not rows:
        return
    frame = _rows_frame([row for row, _ in rows]).assign(input=[index for _, index in rows])
    identity = ["run_id", *KEY_COLUMNS]
    within = frame[frame.duplicated(["input", *identity], keep=False)]
    if not within.empty:
        first = within.iloc[0]
        raise ResultsError(
            f"{result_sets[first['input']].source}: run {first['run_id']} has "
            f"{len(within[(within[identity] == first[identity]).all(axis=1)])} rows for "
            f"{'/'.join(first[list(KEY_COLUMNS)])}; the leaderboard cannot tell which is right "
            "(two models or boards of one name in one run?)")
    for _, group in frame[frame.duplicated(identity, keep=False)].groupby(identity):
        versions = [rows[position][0] for position in group["position"]]
        if any(version != versions[0] for version in versions[1:]):
            sources = ", ".join(str(result_sets[index].source) for index in group["input"])
            raise ResultsError(
                f"run {group.iloc[0]['run_id']} has different figures for "
                f"{'/'.join(group.iloc[0][list(KEY_COLUMNS)])} in {sources}; one of them was "
                "changed after the run: merge only the one you trust")


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
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}  # the side file only adds facts; the rows themselves were checked
        for entry in earlier.get("runs") or ():
            if str(entry.get("run_id")) == run_id:
                return {key: value for key, value in entry.items()
                        if key not in ("run_id", "read_from", "modes", "rows")}
    return {}


def build_leaderboard(result_sets: Sequence[ResultSet],
                      modes: Sequence[str] | None = None) -> tuple[list[Row], dict]:
    """Merge result sets into leaderboard rows, and describe where each row came from.

    Raises ResultsError for rows no leaderboard should hold (see check_mergeable).
    """
    check_mergeable(result_sets)
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
