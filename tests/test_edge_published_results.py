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
