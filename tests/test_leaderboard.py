"""`hilbench leaderboard`: latest row per board x model x runtime x mode, stable, neutralised."""

from __future__ import annotations

import argparse
import csv
import json

import pytest

from hilbench.record.rows import ResultsError, read_results_csv
from hilbench.record.schema import RESULT_COLUMNS
from hilbench.record.store import RunRecorder
from hilbench.report.leaderboard import add_leaderboard_arguments, cmd_leaderboard, latest_rows
from test_record_rows import sample_row
from test_record_store import measurement


def run_leaderboard(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hilbench leaderboard")
    add_leaderboard_arguments(parser)
    return cmd_leaderboard(parser.parse_args(list(argv)))


def record(results, run_id, rows):
    recorder = RunRecorder.start(results, run_id=run_id, command_line=["pytest"])
    for row in rows:
        recorder.append_row(row)
    return recorder


def test_latest_row_per_key_wins_and_order_is_stable():
    old = sample_row(timestamp="2026-11-25T22:00:00.000+00:00",
                     run_id="20261125T220000.000Z-aaaaaa")
    new = sample_row(slower_by=1.1, timestamp="2026-11-26T01:00:00.000+00:00",
                     run_id="20261126T010000.000Z-bbbbbb")
    emulated = sample_row(mode="emulated")
    other = sample_row(board="nano33", model="ad01")
    for ordering in ([old, new, emulated, other], [other, emulated, new, old]):
        merged = latest_rows(ordering)
        assert [(r["board"], r["model"], r["mode"]) for r in merged] == [
            ("nano33", "ad01", "hardware"), ("nucleo-l4r5zi", "kws01", "emulated"),
            ("nucleo-l4r5zi", "kws01", "hardware")]
        assert merged[2]["run_id"] == new["run_id"]


def test_leaderboard_merges_runs_and_writes_sources(tmp_path, capsys):
    results = tmp_path / "results"
    record(results, "20261125T220000.000Z-aaaaaa", [
        measurement(board="nano33"), measurement(board="nano33", mode="emulated"),
        measurement(board="nucleo-l4r5zi", model="vww01")])
    record(results, "20261126T010000.000Z-bbbbbb", [
        measurement(board="nano33", slower_by=1.02), measurement(board="host", mode="host")])

    assert run_leaderboard("--results-dir", str(results)) == 0
    leaderboard = results / "leaderboard.csv"
    rows = read_results_csv(leaderboard)
    assert [(r["board"], r["model"], r["mode"], r["run_id"][-6:]) for r in rows] == [
        ("host", "kws01", "host", "bbbbbb"),
        ("nano33", "kws01", "emulated", "aaaaaa"),
        ("nano33", "kws01", "hardware", "bbbbbb"),
        ("nucleo-l4r5zi", "vww01", "hardware", "aaaaaa")]
    with open(leaderboard, newline="") as stream:
        assert tuple(next(csv.reader(stream))) == RESULT_COLUMNS

    sources = json.loads((results / "leaderboard.sources.json").read_text())
    assert sources["modes"] == ["emulated", "hardware", "host"]
    assert {run["run_id"]: (run["modes"], run["rows"]) for run in sources["runs"]} == {
        "20261125T220000.000Z-aaaaaa": (["emulated", "hardware"], 2),
        "20261126T010000.000Z-bbbbbb": (["hardware", "host"], 2)}
    out = capsys.readouterr().out
    assert "wrote" in out and "(device-timer)" in out and "(host-clock)" in out

    # Re-running with nothing new gives the same rows; the leaderboard is an input too, so
    # rows survive even when the run folders are gone (results/runs is not published).
    first = leaderboard.read_bytes()
    assert run_leaderboard("--results-dir", str(results)) == 0
    assert leaderboard.read_bytes() == first
    for run_dir in (results / "runs").iterdir():
        for path in sorted(run_dir.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        run_dir.rmdir()
    record(results, "20261126T200000.000Z-cccccc", [measurement(board="nano33", slower_by=0.9)])
    assert run_leaderboard("--results-dir", str(results)) == 0
    rows = read_results_csv(leaderboard)
    assert len(rows) == 4
    assert [r["run_id"][-6:] for r in rows if r["board"] == "nano33"] == ["aaaaaa", "cccccc"]


def test_mode_filter_and_explicit_inputs(tmp_path):
    results = tmp_path / "results"
    run = record(results, "20261126T010000.000Z-bbbbbb", [
        measurement(board="nano33"), measurement(board="nano33", mode="emulated")])
    output = tmp_path / "hw.csv"
    assert run_leaderboard(str(run.run_dir), "--mode", "hardware", "-o", str(output)) == 0
    assert [r["mode"] for r in read_results_csv(output)] == ["hardware"]
    sources = json.loads((tmp_path / "hw.sources.json").read_text())
    assert sources["mode_filter"] == ["hardware"]


def test_formula_cells_are_neutralised_in_the_leaderboard(tmp_path):
    results = tmp_path / "results"
    record(results, "20261126T010000.000Z-bbbbbb",
           [measurement(runtime="=cmd|'/C calc'!A0", accuracy_delta=-0.005)])
    assert run_leaderboard("--results-dir", str(results)) == 0
    with open(results / "leaderboard.csv", newline="") as stream:
        header, cells = list(csv.reader(stream))
    written = dict(zip(header, cells))
    assert written["runtime"] == "'=cmd|'/C calc'!A0"
    assert float(written["accuracy_delta"]) == pytest.approx(-0.005)
    assert written["accuracy_delta"].startswith("-")


def test_nothing_to_merge_is_a_clear_error(tmp_path):
    with pytest.raises(ResultsError, match="nothing to merge: no leaderboard at .* and no runs"):
        run_leaderboard("--results-dir", str(tmp_path / "empty"))


@pytest.mark.parametrize("content", [
    "schema_version,board\n1,caf\xe9\n".encode("latin-1"),      # a spreadsheet's latin-1 export
    bytes(range(256)) * 4,                                       # not text at all
    b"schema_version,board\n1,\x00\x00\n",                       # NUL bytes
], ids=["latin-1", "binary", "nul"])
@pytest.mark.parametrize("command", ["leaderboard", "compare", "report"])
def test_a_csv_that_is_not_utf8_text_is_one_clear_error(tmp_path, capsys, content, command):
    from hilbench.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    argv = {"leaderboard": ["leaderboard", str(bad), "-o", str(tmp_path / "lb.csv")],
            "compare": ["compare", str(bad), str(bad)],
            "report": ["report", str(bad), "-o", str(tmp_path / "r.html")]}[command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"hilbench: error: {bad} ")
    assert "Traceback" not in err[0]
    assert not (tmp_path / "lb.csv").exists() and not (tmp_path / "r.html").exists()


def test_a_zero_latency_is_refused(tmp_path):
    path = tmp_path / "zero.csv"
    from hilbench.record.rows import write_results_csv

    write_results_csv(path, [sample_row(), sample_row(board="nano33", latency_ms_p50=0.0)])
    with pytest.raises(ResultsError, match=r"zero.csv: nano33/kws01/.*latency_ms_p50 0"):
        run_leaderboard(str(path), "-o", str(tmp_path / "lb.csv"))
    assert not (tmp_path / "lb.csv").exists()


def test_duplicate_rows_of_one_run_are_refused(tmp_path):
    from hilbench.record.rows import write_results_csv

    path = tmp_path / "dup.csv"
    write_results_csv(path, [sample_row(), sample_row(slower_by=2.0)])
    with pytest.raises(ResultsError, match=r"dup.csv: run .* has 2 rows for nucleo-l4r5zi/kws01/"):
        run_leaderboard(str(path), "-o", str(tmp_path / "lb.csv"))
    # the very same row read twice (a run and an earlier leaderboard) merges
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_results_csv(first, [sample_row()])
    write_results_csv(second, [sample_row()])
    assert run_leaderboard(str(first), str(second), "-o", str(tmp_path / "lb.csv")) == 0
    assert len(read_results_csv(tmp_path / "lb.csv")) == 1
    # ... but not when its figures were changed in one of them
    write_results_csv(second, [sample_row(slower_by=0.5)])
    with pytest.raises(ResultsError, match="different figures for nucleo-l4r5zi/kws01"):
        run_leaderboard(str(first), str(second), "-o", str(tmp_path / "lb2.csv"))
