"""`hilbench compare RUN BASELINE --fail-on median:5%`: a regression gate between two result sets.

Rows are matched by board x model x runtime x mode. A figure is only compared with a figure
that has the same labels (mode, and latency_source or energy_source); when they differ the
gate says so instead of comparing apples with oranges.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hilbench.record.rows import ResultsError, row_key
from hilbench.record.schema import KEY_COLUMNS
from hilbench.record.store import ResultSet, load_results
from hilbench.report.figures import FIGURES, Figure, row_title
from hilbench.report.leaderboard import latest_rows

# Names a --fail-on spec may use for a figure; a RESULT_COLUMNS name works as well.
FIGURE_ALIASES = {
    "median": "latency_ms_p50", "latency": "latency_ms_p50", "latency median": "latency_ms_p50",
    "p50": "latency_ms_p50", "latency p50": "latency_ms_p50",
    "p90": "latency_ms_p90", "latency p90": "latency_ms_p90",
    "cycles": "cycles_per_inference",
    "energy": "energy_uj",
    "accuracy": "accuracy",
    "accuracy delta": "accuracy_delta", "delta": "accuracy_delta",
    "bitexact": "bitexact_rate", "bit-exact": "bitexact_rate",
    "flash": "flash_bytes", "ram": "ram_bytes",
    "cloud": "cloud_latency_ms", "cloud latency": "cloud_latency_ms",
}
# Figures compared when no --fail-on is given (reported, never failing).
DEFAULT_FIGURES = ("latency_ms_p50", "energy_uj", "accuracy")
_THRESHOLD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|pt)\s*$")


@dataclass(frozen=True)
class FailOn:
    """One gate: a figure may get worse by at most ``limit`` (% of baseline, or points)."""

    figure: Figure
    limit: float | None  # None: compare and report, never fail
    unit: str            # "%" (relative to the baseline) or "pt" (percentage points)
    spec: str

    def limit_text(self) -> str:
        """How the limit reads in messages, e.g. "5%" or "1pt"."""
        return "report only" if self.limit is None else f"{self.limit:g}{self.unit}"


def parse_fail_on(spec: str) -> FailOn:
    """Parse ``FIGURE:LIMIT``, e.g. ``median:5%``, ``latency p90:10%``, ``energy:10%``,
    ``accuracy:1pt`` (1 percentage point). Raises ResultsError naming what is wrong."""
    name, separator, limit_text = spec.rpartition(":")
    forms = ("FIGURE:N% (relative to the baseline) or FIGURE:Npt (percentage points, for "
             "accuracy, accuracy delta, bit-exact)")
    if not separator:
        raise ResultsError(f"--fail-on {spec!r}: expected {forms}, e.g. median:5%")
    normalised = " ".join(name.lower().replace("_", " ").split())
    column = FIGURE_ALIASES.get(normalised) or (name.strip() if name.strip() in FIGURES else None)
    if column is None:
        known = sorted(set(FIGURE_ALIASES) | set(FIGURES))
        raise ResultsError(f"--fail-on {spec!r}: unknown figure {name.strip()!r} "
                           f"(known: {', '.join(known)})")
    match = _THRESHOLD.match(limit_text)
    if not match:
        raise ResultsError(f"--fail-on {spec!r}: limit {limit_text!r} is not N% or Npt; "
                           f"expected {forms}")
    figure = FIGURES[column]
    unit = match.group(2)
    if unit == "pt" and figure.unit not in ("%", "pt"):
        raise ResultsError(f"--fail-on {spec!r}: points (pt) apply to accuracy-like figures "
                           f"only; use a percentage for {figure.title}")
    return FailOn(figure, float(match.group(1)), unit, spec)


@dataclass(frozen=True)
class Finding:
    """The outcome of comparing one figure of one row."""

    status: str  # "regression", "ok", "not-compared"
    message: str


@dataclass
class Comparison:
    """Everything compare_results found."""

    run_name: str
    baseline_name: str
    findings: list[Finding] = field(default_factory=list)
    only_in_run: list[str] = field(default_factory=list)
    only_in_baseline: list[str] = field(default_factory=list)
    not_measured: int = 0

    def count(self, status: str) -> int:
        """How many findings have ``status``."""
        return sum(1 for finding in self.findings if finding.status == status)


def _change(rule: FailOn, baseline: float, current: float) -> tuple[float, str]:
    """How much worse ``current`` is than ``baseline`` in the rule's unit (negative: better),
    and the change as people read it ("+6.5%", "-1.2pt")."""
    if rule.unit == "pt":
        points = (current - baseline) * rule.figure.scale
        worse_by = points if rule.figure.lower_is_better else -points
        return worse_by, f"{points:+.2f}pt"
    if baseline == 0:
        relative = 0.0 if current == baseline else math.copysign(math.inf, current - baseline)
    else:
        relative = (current - baseline) / abs(baseline) * 100
    worse_by = relative if rule.figure.lower_is_better else -relative
    return worse_by, f"{relative:+.1f}%"


def _compare_figure(rule: FailOn, run_row: Mapping, base_row: Mapping,
                    comparison: Comparison) -> None:
    figure = rule.figure
    title = row_title(run_row)
    against = f"against run {base_row['run_id']}"
    current, baseline = run_row.get(figure.column), base_row.get(figure.column)
    if current is None and baseline is None:
        comparison.not_measured += 1
        return
    if current is None or baseline is None:
        comparison.findings.append(Finding("not-compared", (
            f"{title}: {figure.title} is {figure.text(run_row)} in the run and "
            f"{figure.text(base_row)} in the baseline ({against}); not compared")))
        return
    if figure.label(run_row) != figure.label(base_row):
        label_column = figure.label_column()
        comparison.findings.append(Finding("not-compared", (
            f"{title}: {figure.title} not compared: {label_column} is "
            f"{figure.label(run_row) or 'empty'} in the run but "
            f"{figure.label(base_row) or 'empty'} "
            f"in the baseline ({figure.text(run_row)} vs {figure.text(base_row)}, {against})")))
        return
    worse_by, change_text = _change(rule, float(baseline), float(current))
    regressed = rule.limit is not None and worse_by > rule.limit
    status = "regression" if regressed else "ok"
    comparison.findings.append(Finding(status, (
        f"{title}: {figure.title} {figure.text(base_row)} -> {figure.text(run_row)} "
        f"({change_text}, limit {rule.limit_text()}) {against}")))


def _keyed(rows: Sequence[Mapping]) -> pd.DataFrame:
    """The latest row per key as a frame of the key columns, ``row`` holding the row itself."""
    latest = latest_rows(rows)
    frame = pd.DataFrame([row_key(row) for row in latest], columns=list(KEY_COLUMNS))
    frame["row"] = pd.Series(latest, dtype=object)
    return frame


def compare_results(run: ResultSet, baseline: ResultSet, rules: Sequence[FailOn]) -> Comparison:
    """Compare every figure named by ``rules`` between matching rows of run and baseline.

    A run row whose board/model/runtime the baseline has only in modes the run did not
    measure (e.g. a board that fell back to its emulated twin) is reported as not compared.
    """
    comparison = Comparison(run.name, baseline.name)
    group = list(KEY_COLUMNS[:3])   # board, model, runtime: the row without its mode
    merged = _keyed(run.rows).merge(_keyed(baseline.rows), on=list(KEY_COLUMNS), how="outer",
                                    suffixes=("_run", "_base"), indicator="side")
    merged = merged.sort_values(list(KEY_COLUMNS), kind="stable")
    # The modes each side measured per board x model x runtime.
    modes = merged.groupby(group)[["side", "mode"]].apply(lambda rows: pd.Series({
        "run": set(rows.loc[rows["side"] != "right_only", "mode"]),
        "base": set(rows.loc[rows["side"] != "left_only", "mode"])}))

    for line in merged[merged["side"] != "right_only"].itertuples():
        run_row = line.row_run
        if line.side == "both":
            for rule in rules:
                _compare_figure(rule, run_row, line.row_base, comparison)
            continue
        measured = modes.loc[tuple(getattr(line, column) for column in group)]
        unmatched_baseline_modes = measured["base"] - measured["run"]
        if unmatched_baseline_modes:
            comparison.findings.append(Finding("not-compared", (
                f"{row_title(run_row)}: not compared: the run measured it in mode "
                f"{run_row['mode']}, the baseline in mode "
                f"{', '.join(sorted(unmatched_baseline_modes))}")))
        else:
            comparison.only_in_run.append(row_title(run_row))
    for line in merged[merged["side"] == "right_only"].itertuples():
        measured = modes.loc[tuple(getattr(line, column) for column in group)]
        if not measured["run"] - measured["base"]:
            comparison.only_in_baseline.append(row_title(line.row_base))
        # else: already reported above as measured in another mode
    return comparison


def format_comparison(comparison: Comparison) -> str:
    """The gate's report: regressions first, then label mismatches, then the rest."""
    lines = [f"comparing {comparison.run_name} with baseline {comparison.baseline_name}"]
    tags = {"regression": "REGRESSION", "not-compared": "NOT COMPARED", "ok": "ok"}
    for status in ("regression", "not-compared", "ok"):
        lines += [f"{tags[status]:<12} {finding.message}"
                  for finding in comparison.findings if finding.status == status]
    lines += [f"{'NEW':<12} {title}: only in the run" for title in comparison.only_in_run]
    lines += [f"{'MISSING':<12} {title}: in the baseline, not in the run"
              for title in comparison.only_in_baseline]
    lines.append(
        f"summary: {comparison.count('regression')} regression(s), {comparison.count('ok')} "
        f"within limits, {comparison.count('not-compared')} not compared (labels or "
        f"measurements differ), {len(comparison.only_in_run)} new, "
        f"{len(comparison.only_in_baseline)} missing, {comparison.not_measured} not measured "
        "in either")
    return "\n".join(lines)


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `hilbench compare`."""
    parser.description = (
        "Compare a run with a baseline and fail on regressions. RUN and BASELINE are run "
        "folders or results CSVs (a leaderboard too). Rows match by board x model x runtime x "
        "mode; figures whose labels differ (mode, latency_source, energy_source) are reported "
        "as not compared, never compared silently. Exit status 1 on a regression.")
    parser.epilog = (
        "FIGURE: median (= latency p50), p90, cycles, energy, accuracy, accuracy delta, "
        "bitexact, flash, ram, cloud, or a result column name.\n"
        "LIMIT: N% (worse than the baseline by more than N percent) or Npt (accuracy-like "
        "figures: percentage points).\n"
        "examples:\n"
        "  hilbench compare results/runs/20261126T183947.123Z-3fa9c1 results/leaderboard.csv "
        "--fail-on median:5%\n"
        "  hilbench compare new.csv old.csv --fail-on 'latency p90:10%' --fail-on energy:10% "
        "--fail-on accuracy:1pt")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    # dests avoid names a front end may use for its own dispatch (run, command, func)
    parser.add_argument("run_path", type=Path, metavar="RUN", help="run folder or results CSV")
    parser.add_argument("baseline_path", type=Path, metavar="BASELINE",
                        help="run folder or results CSV (e.g. results/leaderboard.csv)")
    parser.add_argument("--fail-on", action="append", default=None, metavar="FIGURE:LIMIT",
                        help="fail when FIGURE is worse than LIMIT (repeatable); without it "
                             f"{', '.join(DEFAULT_FIGURES)} are reported only")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when a gated figure could not be compared (labels "
                             "differ, or measured on one side only) or a baseline row is "
                             "missing from the run")


def cmd_compare(args: argparse.Namespace) -> int:
    """Run `hilbench compare`; returns 1 on a regression (or, with --strict, a gap)."""
    if args.fail_on:
        rules = [parse_fail_on(spec) for spec in args.fail_on]
    else:
        rules = [FailOn(FIGURES[column], None, "%", column) for column in DEFAULT_FIGURES]
    comparison = compare_results(load_results(args.run_path), load_results(args.baseline_path),
                                 rules)
    print(format_comparison(comparison))
    if comparison.count("regression"):
        return 1
    if args.strict and (comparison.count("not-compared") or comparison.only_in_baseline):
        return 1
    return 0
