"""`hilbench compare`: regression gate that names what regressed, and never compares figures
with different labels silently."""

from __future__ import annotations

import argparse

import pytest

from hilbench.record.rows import ResultsError, write_results_csv
from hilbench.record.store import RunRecorder
from hilbench.report.compare import add_compare_arguments, cmd_compare, parse_fail_on
from test_record_rows import sample_row
from test_record_store import measurement

BASE_ID = "20261125T220000.000Z-aaaaaa"
RUN_ID = "20261126T220000.000Z-bbbbbb"


def run_compare(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hilbench compare")
    add_compare_arguments(parser)
    return cmd_compare(parser.parse_args([str(a) for a in argv]))


def record(results, run_id, rows):
    recorder = RunRecorder.start(results, run_id=run_id, command_line=["pytest"])
    for row in rows:
        recorder.append_row(row)
    return recorder.run_dir


@pytest.fixture
def baseline(tmp_path):
    return record(tmp_path, BASE_ID, [
        measurement(board="nano33"),
        measurement(board="nano33", model="vww01"),
        measurement(board="nucleo-l4r5zi", mode="emulated"),
    ])


def test_latency_regression_names_board_model_figure_amount_and_baseline_run(
        tmp_path, baseline, capsys):
    run = record(tmp_path, RUN_ID, [
        measurement(board="nano33", slower_by=1.062),
        measurement(board="nano33", model="vww01", slower_by=1.03),
        measurement(board="nucleo-l4r5zi", mode="emulated"),
    ])
    assert run_compare(run, baseline, "--fail-on", "median:5%") == 1
    out = capsys.readouterr().out
    regressions = [line for line in out.splitlines() if line.startswith("REGRESSION")]
    assert len(regressions) == 1
    line = regressions[0]
    assert "nano33 / kws01 / hilbench-int8 [hardware]" in line
    assert "latency p50" in line and "(device-timer)" in line
    assert "+6.2%" in line and "limit 5%" in line
    assert f"against run {BASE_ID}" in line
    assert f"comparing run {RUN_ID} with baseline run {BASE_ID}" in out
    assert "summary: 1 regression(s), 2 within limits" in out
    # within the limit: passes
    assert run_compare(run, baseline, "--fail-on", "median:7%") == 0


def test_several_gates_energy_accuracy_points_and_p90(tmp_path, baseline, capsys):
    run = record(tmp_path, RUN_ID, [
        measurement(board="nano33", energy_uj=sample_row("nano33")["energy_uj"] * 1.15),
        measurement(board="nano33", model="vww01",
                    accuracy=sample_row(model="vww01")["accuracy"] - 0.012),
        measurement(board="nucleo-l4r5zi", mode="emulated", slower_by=1.2,
                    energy_uj=sample_row(mode="emulated")["energy_uj"]),
    ])
    code = run_compare(run, baseline, "--fail-on", "energy:10%", "--fail-on", "accuracy:1pt",
                       "--fail-on", "latency p90:25%")
    out = capsys.readouterr().out
    assert code == 1
    regressions = [line for line in out.splitlines() if line.startswith("REGRESSION")]
    assert len(regressions) == 2
    assert any("nano33 / kws01" in l and "energy/inference" in l and "(probe)" in l
               and "+15.0%" in l for l in regressions)
    assert any("nano33 / vww01" in l and "accuracy" in l and "-1.20pt" in l
               and "limit 1pt" in l for l in regressions)
    assert "latency p90" in out and "+20.0%" in out  # emulated row: compared, within 25%


def test_improvements_never_fail(tmp_path, baseline):
    run = record(tmp_path, RUN_ID, [
        measurement(board="nano33", slower_by=0.5),
        measurement(board="nano33", model="vww01",
                    accuracy=sample_row(model="vww01")["accuracy"] + 0.05),
        measurement(board="nucleo-l4r5zi", mode="emulated", slower_by=0.9),
    ])
    assert run_compare(run, baseline, "--fail-on", "median:1%", "--fail-on",
                       "accuracy:0.1pt", "--fail-on", "energy:1%") == 0


def test_different_labels_are_reported_not_compared(tmp_path, baseline, capsys):
    run = record(tmp_path, RUN_ID, [
        # the same board timed by the host clock instead of the device timer, 3x slower
        measurement(board="nano33", latency_source="host-clock", slower_by=3.0,
                    energy_uj=sample_row("nano33")["energy_uj"]),
        # energy modeled instead of probed
        measurement(board="nano33", model="vww01", energy_source="model"),
        # a board that fell back to its emulated twin
        measurement(board="nucleo-l4r5zi", mode="hardware"),
    ])
    assert run_compare(run, baseline, "--fail-on", "median:5%", "--fail-on", "energy:5%") == 0
    out = capsys.readouterr().out
    assert "REGRESSION" not in out
    not_compared = [line for line in out.splitlines() if line.startswith("NOT COMPARED")]
    assert any("nano33 / kws01" in l and "latency_source is host-clock in the run but "
               "device-timer in the baseline" in l for l in not_compared)
    assert any("nano33 / vww01" in l and "energy_source is model in the run but probe" in l
               for l in not_compared)
    assert any("nucleo-l4r5zi / kws01" in l and "the run measured it in mode hardware, the "
               "baseline in mode emulated" in l for l in not_compared)
    assert "3 not compared" in out
    # --strict turns gaps into a failure (for gates that must compare like with like)
    assert run_compare(run, baseline, "--fail-on", "median:5%", "--strict") == 1


def test_leaderboard_and_csv_inputs_missing_and_new_rows(tmp_path, capsys):
    leaderboard = tmp_path / "leaderboard.csv"
    write_results_csv(leaderboard, [
        sample_row("nano33", run_id="20261120T010000.000Z-111111"),
        sample_row("nano33", "ad01", run_id="20261121T010000.000Z-222222"),
    ])
    run_csv = tmp_path / "new.csv"
    write_results_csv(run_csv, [
        sample_row("nano33", run_id=RUN_ID, slower_by=1.1),
        sample_row("nucleo-h7a3zi", run_id=RUN_ID),
    ])
    assert run_compare(run_csv, leaderboard, "--fail-on", "median:5%") == 1
    out = capsys.readouterr().out
    assert f"baseline {leaderboard}" in out
    assert "against run 20261120T010000.000Z-111111" in out  # the run the baseline row came from
    assert "NEW          nucleo-h7a3zi / kws01" in out
    assert "MISSING      nano33 / ad01" in out


def test_without_fail_on_figures_are_reported_only(tmp_path, baseline, capsys):
    run = record(tmp_path, RUN_ID, [measurement(board="nano33", slower_by=2.0)])
    assert run_compare(run, baseline) == 0
    out = capsys.readouterr().out
    assert "+100.0%, limit report only" in out


@pytest.mark.parametrize("spec, message", [
    ("median", "expected FIGURE:N%"),
    ("speed:5%", "unknown figure 'speed'"),
    ("median:5", "limit '5' is not N% or Npt"),
    ("median:1pt", "points (pt) apply to accuracy-like figures only"),
])
def test_bad_fail_on_specs(spec, message):
    with pytest.raises(ResultsError) as error:
        parse_fail_on(spec)
    assert message in str(error.value)


def test_fail_on_aliases():
    assert parse_fail_on("median:5%").figure.column == "latency_ms_p50"
    assert parse_fail_on("Latency Median:5%").figure.column == "latency_ms_p50"
    assert parse_fail_on("latency_ms_p90:5%").figure.column == "latency_ms_p90"
    rule = parse_fail_on("accuracy:1.5pt")
    assert (rule.figure.column, rule.limit, rule.unit) == ("accuracy", 1.5, "pt")


# How a front end registers the stage's subcommands; run as a real process so the exit
# status a CI gate sees is checked, not just the function's return value.
FRONT_END = """
import argparse, sys
from hilbench.report import SUBCOMMANDS
parser = argparse.ArgumentParser(prog="hilbench")
commands = parser.add_subparsers(dest="command", required=True)
for name, (summary, add_arguments, command) in SUBCOMMANDS.items():
    add_arguments(commands.add_parser(name, help=summary))
    commands.choices[name].set_defaults(handler=command)
args = parser.parse_args()
sys.exit(args.handler(args))
"""


def test_exit_status_of_a_real_process(tmp_path, baseline):
    import subprocess
    import sys
    run = record(tmp_path, RUN_ID, [measurement(board="nano33", slower_by=1.2)])
    gate = subprocess.run([sys.executable, "-c", FRONT_END, "compare", str(run), str(baseline),
                           "--fail-on", "median:5%"], capture_output=True, text=True, timeout=60)
    assert gate.returncode == 1, gate.stderr
    assert "REGRESSION   nano33 / kws01" in gate.stdout and "+20.0%" in gate.stdout
    passing = subprocess.run([sys.executable, "-c", FRONT_END, "compare", str(run),
                              str(baseline), "--fail-on", "median:25%"],
                             capture_output=True, text=True, timeout=60)
    assert passing.returncode == 0, passing.stdout + passing.stderr
