"""`hilbench edge-vs-cloud` and `pytest --cloud` end to end: a real host-board run of the
reference suite, a real MLServer serving the zoo's float models, and the run folder they leave.

The expected figures are recomputed here from what the command stored (its measured round
trip and the network profile file), never typed in: the test checks that the pieces were put
together as documented, and that the cloud side served the right model on the right vectors
(its accuracy equals the float model's accuracy that the suite measured with tflite-micro).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hilbench.cloud import load_profiles
from hilbench.cloud.run_comparison import TABLE_COLUMNS, compare_run_with_cloud
from hilbench.errors import ConfigError, MeasurementError, ModelError
from hilbench.paths import REPO_DIR, zoo_root
from hilbench.record import RunRecorder, load_run
from hilbench.record.store import RESULTS_CSV
from hilbench import zoo
from test_report_html import rendered_marks

# One classifier and the autoencoder: both accuracy metrics (top-1, ROC AUC) on the cloud side.
MODELS = ("gesture", "ad")
TABLE_NETWORKS = ("wifi", "lora")
CLOUD_COLUMNS = ("cloud_latency_ms", "bytes_on_air_edge", "bytes_on_air_cloud")


def run_command(*arguments: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command from the repository root, like a user would; fail with its output."""
    completed = subprocess.run(["nice", *arguments], cwd=REPO_DIR, capture_output=True, text=True,
                               env=env, timeout=timeout)
    assert completed.returncode == 0, f"{arguments} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
    return completed


def host_suite_run(results_dir: Path, *extra: str) -> tuple[Path, subprocess.CompletedProcess]:
    """`pytest --board=host` on MODELS into results_dir; returns the run folder and the output."""
    completed = run_command(sys.executable, "-m", "pytest", "--board=host",
                            *(f"--model={model}" for model in MODELS), f"--results-dir={results_dir}",
                            "-p", "no:cacheprovider", "-q", *extra)
    [run_dir] = (results_dir / "runs").iterdir()
    return run_dir, completed


def hilbench(*arguments: str) -> subprocess.CompletedProcess:
    return run_command(sys.executable, "-m", "hilbench.cli", *arguments)


@pytest.fixture(scope="module")
def compared_run(tmp_path_factory):
    """A host run of the suite, then `hilbench edge-vs-cloud RUN --network wifi,lora`."""
    results_dir = tmp_path_factory.mktemp("results")
    run_dir, _ = host_suite_run(results_dir)
    rows_before = load_run(run_dir).rows
    completed = hilbench("edge-vs-cloud", str(run_dir), "--network", ",".join(TABLE_NETWORKS))
    return run_dir, rows_before, completed


def read_table_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_table_has_an_edge_row_and_one_cloud_row_per_network_for_each_board_row(compared_run):
    run_dir, rows_before, completed = compared_run
    table = read_table_csv(run_dir / "edge_vs_cloud.csv")
    assert tuple(table[0]) == TABLE_COLUMNS
    expected = [(row["model"], row["board"], side, network) for row in rows_before
                for side, network in [("edge", ""), *(("cloud", n) for n in TABLE_NETWORKS)]]
    assert [(r["model"], r["board"], r["side"], r["network"]) for r in table] == expected
    document = json.loads((run_dir / "edge_vs_cloud.json").read_text())
    assert document["run_id"] == run_dir.name
    assert document["result_columns_network"] == "wifi"
    # The JSON holds the CSV's rows, value for value (the CSV writes str() of each value).
    assert document["columns"] == list(TABLE_COLUMNS)
    assert [{column: "" if row[column] is None else str(row[column]) for column in TABLE_COLUMNS}
            for row in document["rows"]] == table
    # Every figure printed on stdout carries its label.
    stdout = completed.stdout
    for label in ("(host-clock)", "(host-clock+model)", "(model)", "(response-parameter)",
                  "(measured (server, float model))", "(measured (host))"):
        assert label in stdout
    assert "edge [host]" in stdout


def test_cloud_side_measures_the_float_model_on_the_boards_test_vectors(compared_run):
    run_dir, rows_before, _ = compared_run
    document = json.loads((run_dir / "edge_vs_cloud.json").read_text())
    for row in rows_before:
        model = zoo.get_model(row["model"])
        cloud = document["cloud"][row["model"]]
        assert cloud["float_model"] == str(model.float_path)
        assert cloud["requests"] == model.vector_count
        assert cloud["input_elements"] == math.prod(model.input_shape[1:])
        assert cloud["accuracy_metric"] == {"top1": "top1", "auc": "roc_auc"}[model.metric]
        # The suite scored the float model with tflite-micro on the same vectors; the server
        # runs it with LiteRT. Kernels round differently, so allow one vector either way.
        assert cloud["accuracy"] == pytest.approx(row["accuracy_float"], abs=1.5 / model.vector_count)
        assert 0 < cloud["server_compute_ms_p50"] < cloud["round_trip_ms_p50"]
        assert cloud["server_compute_source"] == "response-parameter"


def test_result_rows_get_the_cloud_columns_of_the_row_network(compared_run):
    run_dir, rows_before, _ = compared_run
    rows_after = load_run(run_dir).rows
    document = json.loads((run_dir / "edge_vs_cloud.json").read_text())
    wifi = load_profiles()["wifi"]
    assert all(row[column] is None for row in rows_before for column in CLOUD_COLUMNS)
    assert len(rows_after) == len(rows_before)
    for before, after in zip(rows_before, rows_after):
        # Nothing but the cloud columns changes.
        assert {k: v for k, v in after.items() if k not in CLOUD_COLUMNS} == \
            {k: v for k, v in before.items() if k not in CLOUD_COLUMNS}
        cloud = document["cloud"][after["model"]]
        payload = cloud["input_elements"]  # one int8 byte per input element on the device
        packets = math.ceil(payload / wifi.max_payload_bytes_per_packet.value)
        on_air = payload + packets * wifi.overhead_bytes_per_packet.value
        network_ms = wifi.rtt_ms.value + on_air * 8 / wifi.uplink_bps.value * 1000
        assert after["bytes_on_air_cloud"] == on_air
        assert after["bytes_on_air_edge"] == 1
        assert after["cloud_latency_ms"] == pytest.approx(cloud["round_trip_ms_p50"] + network_ms)
        [table_row] = [r for r in document["rows"] if r["model"] == after["model"]
                       and r["board"] == after["board"] and r["network"] == "wifi"]
        assert table_row["latency_ms_p50"] == pytest.approx(after["cloud_latency_ms"])
        assert table_row["energy_uj"] == pytest.approx(on_air * wifi.energy_uj_per_byte.value)
        assert table_row["energy_source"] == "model"


def test_leaderboard_and_report_show_the_cloud_columns(compared_run, tmp_path):
    run_dir, _, _ = compared_run
    leaderboard = tmp_path / "leaderboard.csv"
    hilbench("leaderboard", str(run_dir), "-o", str(leaderboard))
    rows = load_run(run_dir).rows
    with open(leaderboard, newline="", encoding="utf-8") as stream:
        published = list(csv.DictReader(stream))
    sources = json.loads((tmp_path / "leaderboard.sources.json").read_text())
    [run] = sources["runs"]
    assert "--board=host" in run["command_line"] and run["boards"] == {"host": "host"}
    assert run["edge_vs_cloud"]["network_of_cloud_columns"] == "wifi"
    assert "mlserver==" in run["edge_vs_cloud"]["server"]
    measured = {(r["board"], r["model"]): r for r in rows}
    assert len(published) == len(rows)
    for row in published:
        for column in CLOUD_COLUMNS:
            assert float(row[column]) == pytest.approx(measured[row["board"], row["model"]][column])
    report = tmp_path / "report.html"
    # The leaderboard names the run; the report finds its folder under --results-dir.
    hilbench("report", str(leaderboard), "-o", str(report), "--results-dir", str(run_dir.parent.parent))
    html = report.read_text()
    assert 'id="edge-cloud-table"' in html and "host-clock+model" in html
    networks = re.search(r'<table id="edge-cloud-networks">.*?</table>', html, re.S).group(0)
    assert networks.count("<tr") == 1 + len(rows) * (1 + len(TABLE_NETWORKS))
    assert "(measured (server, float model))" in networks
    _, marks = rendered_marks(report, tmp_path)
    edge_cloud = [mark for mark in marks if mark["chart"] == "edge-cloud"]
    assert len(edge_cloud) == 2 * len(rows)
    assert all(mark["width"] > 0 and mark["height"] > 0 for mark in edge_cloud)
    assert all("host-clock+model" in mark["tooltip"] for mark in edge_cloud if "hb-cloud" in mark["cls"])


def test_pytest_cloud_option_compares_the_run_at_the_end(tmp_path):
    run_dir, completed = host_suite_run(tmp_path / "results", "--cloud")
    assert "hilbench edge vs cloud" in completed.stdout
    table = read_table_csv(run_dir / "edge_vs_cloud.csv")
    networks = list(load_profiles())
    assert [(r["model"], r["network"]) for r in table] == \
        [(model, network) for model in MODELS for network in ["", *networks]]
    assert all(row["cloud_latency_ms"] is not None for row in load_run(run_dir).rows)


# ---------------------------------------------------------------- refusals (no server started)


def recorded_run(results_dir: Path, model: str) -> Path:
    """A run folder holding one host row for ``model`` (for the refusal checks)."""
    recorder = RunRecorder.start(results_dir, command_line=["test"])
    recorder.append_row({"board": "host", "mode": "host", "model": model,
                         "runtime": "hilbench-portable", "latency_source": "host-clock",
                         "latency_ms_p50": 0.2})
    return recorder.run_dir


def test_a_run_without_zoo_models_is_refused_naming_the_model(tmp_path):
    run_dir = recorded_run(tmp_path, "kws_ref_model")
    with pytest.raises(MeasurementError, match="kws_ref_model: not a models_zoo/ model"):
        compare_run_with_cloud(run_dir)


def test_an_unknown_network_is_refused_listing_the_known_ones(tmp_path):
    run_dir = recorded_run(tmp_path, "gesture")
    with pytest.raises(ConfigError, match=r"network profile 'wlan' is unknown \(known: ble, lora, lte, nb-iot, wifi\)"):
        compare_run_with_cloud(run_dir, networks=["wifi", "wlan"])


def test_a_failure_leaves_the_run_folder_as_it_was(tmp_path, monkeypatch):
    """A zoo whose float model is broken: the command fails before it touches results.csv."""
    broken_zoo = tmp_path / "zoo"
    shutil.copytree(zoo_root() / "gesture", broken_zoo / "gesture")
    (broken_zoo / "gesture" / "float.tflite").write_bytes(b"not a model")
    monkeypatch.setenv("HILBENCH_ZOO", str(broken_zoo))
    run_dir = recorded_run(tmp_path / "results", "gesture")
    before = (run_dir / RESULTS_CSV).read_bytes()
    with pytest.raises(ModelError, match="is not a TensorFlow Lite flatbuffer"):
        compare_run_with_cloud(run_dir)
    assert (run_dir / RESULTS_CSV).read_bytes() == before
    assert sorted(path.name for path in run_dir.iterdir()) == ["provenance.json", RESULTS_CSV]


def test_cli_without_runs_says_what_to_do(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "hilbench.cli", "edge-vs-cloud",
                                "--results-dir", str(tmp_path)], capture_output=True, text=True,
                               cwd=REPO_DIR, env=dict(os.environ))
    assert completed.returncode == 2
    assert f"no run folders under {tmp_path}/runs/; run the benchmark first" in completed.stderr
