"""The published results/ folder: made by the tool, consistent with its sources file.

Whatever run it was made from, the leaderboard must read back under the current schema, and
its sources file must describe exactly its rows (runs, modes, counts), so that the published
file always says where each figure came from.
"""

from __future__ import annotations

import json
from collections import Counter

from hilbench.paths import REPO_DIR
from hilbench.record.rows import read_results_csv
from hilbench.report.leaderboard import latest_rows, sources_path

LEADERBOARD = REPO_DIR / "results" / "leaderboard.csv"


def test_published_leaderboard_matches_its_sources_file():
    rows = read_results_csv(LEADERBOARD)  # schema and every row's labels are checked here
    assert rows, f"{LEADERBOARD} is empty"
    assert rows == latest_rows(rows), "one row per board x model x runtime x mode, sorted"
    sources = json.loads(sources_path(LEADERBOARD).read_text())
    assert sources["rows"] == len(rows)
    assert sources["modes"] == sorted({row["mode"] for row in rows})
    per_run = Counter(row["run_id"] for row in rows)
    assert {run["run_id"]: run["rows"] for run in sources["runs"]} == dict(per_run)
    for run in sources["runs"]:
        assert run["modes"] == sorted({row["mode"] for row in rows if row["run_id"] == run["run_id"]})
        assert run.get("command_line") and run.get("git_sha"), f"run {run['run_id']}: how it was made is missing"
        if any(row["cloud_latency_ms"] is not None for row in rows if row["run_id"] == run["run_id"]):
            assert run["edge_vs_cloud"]["network_of_cloud_columns"], run


def test_published_report_is_from_the_published_leaderboard():
    html = (REPO_DIR / "results" / "report.html").read_text()
    rows = read_results_csv(LEADERBOARD)
    for run_id in {row["run_id"] for row in rows}:
        assert run_id in html
    assert html.count('<tr class="hb-') >= len(rows)


def test_published_figures_agree_with_the_zoo_cards_and_the_catalog():
    """Checks from outside the leaderboard's own files: a bit-exact row scores exactly what
    tflite-micro scored on the same vectors (the model card), and its latency is its cycles
    at the catalog board's clock."""
    from hilbench import zoo
    from hilbench.boards import load_boards

    cards = {model.name: model for model in zoo.list_models()}
    catalog = load_boards(cwd=REPO_DIR / "results")
    rows = read_results_csv(LEADERBOARD)
    checked = 0
    for row in rows:
        where = f"{row['board']} x {row['model']} ({row['run_id']})"
        assert row["clock_hz"] == catalog.get(row["board"]).clock_hz, where
        if row["cycles_per_inference"] is not None and row["latency_source"] == "icount":
            assert abs(row["latency_ms_p50"] - row["cycles_per_inference"] / row["clock_hz"] * 1e3) \
                <= 1e-9 * row["latency_ms_p50"], where
        card = cards.get(row["model"])
        if card is None or row["bitexact_rate"] != 1.0:
            continue
        assert abs(row["accuracy_float"] - card.accuracy_float) < 1e-12, where
        assert abs(row["accuracy"] - card.accuracy_int8) < 1e-12, where
        assert abs(row["accuracy_delta"] - (row["accuracy"] - row["accuracy_float"])) < 1e-12, where
        checked += 1
    assert checked >= len({row["model"] for row in rows}), "no bit-exact zoo rows to check"
