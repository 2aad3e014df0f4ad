"""Edge versus cloud for a finished benchmark run: serve, measure, tabulate, fill the run's rows.

For every model of a run folder (results/runs/<run_id>/), the float version of the model is
served with MLServer on 127.0.0.1 and measured over the same test vectors the boards ran (the
zoo's committed vectors.npz); the cloud side's accuracy uses the same metric as the board rows
(top-1, or ROC AUC of the reconstruction error for anomaly detection). Then, per board row and
network profile, the edge-versus-cloud table is built (see edge_vs_cloud.py) and written into the
run folder, and the result rows' cloud columns are filled for one chosen network:

    edge_vs_cloud.csv    the labelled table, one line per board row x side x network
    edge_vs_cloud.json   the same rows, plus what was served, measured and assumed
    results.csv          cloud_latency_ms, bytes_on_air_edge, bytes_on_air_cloud filled in

Every file is replaced atomically (hilbench.record), so a crash leaves the old run folder whole.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import hilbench
from hilbench import zoo
from hilbench.cloud.client import OpenInferenceClient
from hilbench.cloud.edge_vs_cloud import TABLE_COLUMNS, cloud_result_columns, edge_vs_cloud_rows
from hilbench.cloud.measure import CloudMeasurement, measure_cloud
from hilbench.cloud.network import NetworkProfile, get_profile, load_profiles
from hilbench.cloud.server import (DEFAULT_STARTUP_TIMEOUT_S, SERVER_PYTHON_ENV_VAR,
                                   SERVER_REQUIREMENTS, serve_models)
from hilbench.errors import MeasurementError, ModelError
from hilbench.measure.accuracy import TASK_OF_METRIC, model_accuracy
from hilbench.record.atomic import atomic_write_text
from hilbench.record.provenance import git_sha, utc_now_iso
from hilbench.record.store import RESULTS_CSV, load_run
from hilbench.record.rows import write_results_csv

TABLE_CSV = "edge_vs_cloud.csv"
TABLE_JSON = "edge_vs_cloud.json"
DEFAULT_ROW_NETWORK = "wifi"
# The edge device holds the int8 tensor its model consumes: one byte per input element.
DEVICE_INPUT_BYTES_PER_ELEMENT = 1
# What the device sends back when it infers itself: one class id (or an anomaly flag).
EDGE_RESULT_BYTES = 1


@dataclass(frozen=True)
class CloudTestSet:
    """What the cloud side of one model is measured on: the float model and the same labelled
    test vectors the board ran (their float form)."""

    model: str
    float_model: Path
    x_float: np.ndarray
    labels: np.ndarray
    task: str


@dataclass(frozen=True)
class RunComparison:
    """The outcome of comparing one run with the cloud."""

    run_dir: Path
    table_rows: list[dict]
    cloud: dict[str, CloudMeasurement]
    row_network: str
    skipped: dict[str, str]
    """Models of the run with no cloud side, and why."""
    table_csv: Path
    table_json: Path


def zoo_test_set(model: str) -> CloudTestSet:
    """The float model and labelled vectors of zoo model ``model`` (ModelError if it is not one)."""
    entry = zoo.get_model(model)
    if not entry.float_path.is_file():
        raise ModelError(f"zoo model '{model}' has no {entry.float_path.name}; regenerate it with "
                         f"`python -m models_zoo.regenerate --only {model}`")
    vectors = zoo.load_vectors(model)
    return CloudTestSet(model=model, float_model=entry.float_path, x_float=vectors.x,
                        labels=vectors.y, task=TASK_OF_METRIC[entry.metric])


def cloud_test_sets(models: Sequence[str]) -> tuple[dict[str, CloudTestSet], dict[str, str]]:
    """Test sets of the models that have them, and the reason for each model that has none."""
    test_sets, skipped = {}, {}
    zoo_names = {entry.name for entry in zoo.list_models()}
    for model in models:
        if model not in zoo_names:
            skipped[model] = ("not a models_zoo/ model: the cloud side needs the float model and "
                              "the labelled test vectors the board ran (models_zoo/<name>/"
                              "float.tflite and vectors.npz)")
            continue
        test_sets[model] = zoo_test_set(model)
    return test_sets, skipped


def cloud_accuracy(test_set: CloudTestSet, outputs: np.ndarray) -> float:
    """The server's accuracy on the test vectors, in the metric the board rows use."""
    outputs = np.asarray(outputs, dtype=np.float32).reshape(test_set.x_float.shape[0], -1)
    return model_accuracy(test_set.task, test_set.x_float, outputs, test_set.labels)


def server_software() -> str:
    """What served the models, for the record."""
    override = os.environ.get(SERVER_PYTHON_ENV_VAR)
    environment = (f"the Python at {override} ({SERVER_PYTHON_ENV_VAR})" if override
                   else ", ".join(SERVER_REQUIREMENTS))
    return f"MLServer with hilbench's TFLite runtime; {environment}"


def measure_test_sets(
    test_sets: Mapping[str, CloudTestSet],
    port: int = 0,
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
) -> tuple[dict[str, CloudMeasurement], dict]:
    """Serve every test set's float model with MLServer and measure it over its vectors.

    Returns the measurements by model, and a description of the server for the record.
    """
    served = {name: test_set.float_model for name, test_set in test_sets.items()}
    cloud: dict[str, CloudMeasurement] = {}
    with serve_models(served, port=port, startup_timeout_s=startup_timeout_s) as server:
        with OpenInferenceClient(server.url) as client:
            for name, test_set in test_sets.items():
                measurement = measure_cloud(client, name, test_set.x_float)
                (first_output, *_) = measurement.outputs.values()
                cloud[name] = dataclasses.replace(
                    measurement, accuracy=cloud_accuracy(test_set, first_output))
        server_facts = {"url": server.url, "software": server_software(),
                        "models": {name: str(path) for name, path in server.models.items()}}
    return cloud, server_facts


def _table_csv(rows: Sequence[Mapping[str, object]]) -> str:
    # object dtype: every cell is written as the value it is (an int stays "1", not "1.0")
    table = pd.DataFrame(list(rows), columns=list(TABLE_COLUMNS), dtype=object)
    return table.to_csv(index=False, lineterminator="\r\n", na_rep="")


def _measurement_record(measurement: CloudMeasurement, test_set: CloudTestSet) -> dict:
    return {
        "float_model": str(test_set.float_model),
        "task": test_set.task,
        "accuracy_metric": "top1" if test_set.task == "classification" else "roc_auc",
        "requests": measurement.requests,
        "input_elements": measurement.input_elements,
        "round_trip_ms_p50": measurement.round_trip_ms_p50,
        "round_trip_ms_p90": measurement.round_trip_ms_p90,
        "round_trip_source": measurement.round_trip_source,
        "server_compute_ms_p50": measurement.server_compute_ms_p50,
        "server_compute_ms_p90": measurement.server_compute_ms_p90,
        "server_compute_source": measurement.compute_source,
        "accuracy": measurement.accuracy,
    }


def _profile_record(profile: NetworkProfile) -> dict:
    return {field.name: (dataclasses.asdict(getattr(profile, field.name))
                         if dataclasses.is_dataclass(getattr(profile, field.name))
                         else getattr(profile, field.name))
            for field in dataclasses.fields(profile)}


def compare_run_with_cloud(
    run_dir: Path,
    networks: Sequence[str] | None = None,
    row_network: str = DEFAULT_ROW_NETWORK,
    profiles_path: Path | None = None,
    port: int = 0,
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
) -> RunComparison:
    """Measure the cloud side of a run's models and write the comparison into the run folder.

    ``networks``: the profiles of the table (default: every profile of the file).
    ``row_network``: the profile whose figures go into the result rows' cloud columns (one
    row holds one cloud latency). Rows of models that have no cloud side keep empty cloud
    columns; they are listed in ``skipped``. Raises MeasurementError when no row can be compared.
    """
    run_dir = Path(run_dir)
    result_set = load_run(run_dir)
    if not result_set.rows:
        raise MeasurementError(f"run folder {run_dir} has no result rows yet; run the benchmark "
                               "first (pytest --board=B)")
    profiles = load_profiles(profiles_path)
    networks = list(networks) if networks else list(profiles)
    for name in [*networks, row_network]:
        get_profile(name, profiles)  # ConfigError naming the known profiles

    models = sorted({str(row["model"]) for row in result_set.rows})
    test_sets, skipped = cloud_test_sets(models)
    if not test_sets:
        raise MeasurementError(
            f"no model of run {run_dir.name} can be compared with the cloud: "
            + "; ".join(f"{model}: {why}" for model, why in skipped.items()))
    cloud, server_facts = measure_test_sets(test_sets, port=port, startup_timeout_s=startup_timeout_s)

    edge_rows = [row for row in result_set.rows if row["model"] in cloud]
    table_rows = edge_vs_cloud_rows(edge_rows, cloud, networks=networks, profiles=profiles,
                                    result_bytes=EDGE_RESULT_BYTES,
                                    input_bytes_per_element=DEVICE_INPUT_BYTES_PER_ELEMENT)

    row_profile = get_profile(row_network, profiles)
    updated_rows = []
    for row in result_set.rows:
        if row["model"] in cloud:
            row = dict(row, **cloud_result_columns(
                row, cloud[str(row["model"])], row_profile, result_bytes=EDGE_RESULT_BYTES,
                input_bytes_per_element=DEVICE_INPUT_BYTES_PER_ELEMENT))
        updated_rows.append(row)

    table_csv, table_json = run_dir / TABLE_CSV, run_dir / TABLE_JSON
    document = {
        "run_id": run_dir.name,
        "generated_at": utc_now_iso(),
        "hilbench_version": hilbench.__version__,
        "git_sha": git_sha(),
        "result_columns_network": row_network,
        "result_columns": {
            "cloud_latency_ms": "host-clock+model: measured round trip p50 + modeled network "
                                f"time ({row_network})",
            "bytes_on_air_edge": f"model: the result only ({EDGE_RESULT_BYTES} byte)",
            "bytes_on_air_cloud": f"model: raw int8 input + protocol overhead ({row_network})",
        },
        "server": server_facts,
        "cloud": {name: _measurement_record(cloud[name], test_sets[name]) for name in sorted(cloud)},
        "networks": {name: _profile_record(get_profile(name, profiles)) for name in networks},
        "skipped_models": skipped,
        "columns": list(TABLE_COLUMNS),
        "rows": table_rows,
    }
    atomic_write_text(table_csv, _table_csv(table_rows))
    atomic_write_text(table_json, json.dumps(document, indent=2) + "\n")
    # Last, so that a run whose rows carry cloud figures always has the table explaining them.
    write_results_csv(run_dir / RESULTS_CSV, updated_rows)
    return RunComparison(run_dir=run_dir, table_rows=table_rows, cloud=cloud,
                         row_network=row_network, skipped=skipped, table_csv=table_csv,
                         table_json=table_json)


def read_comparison(run_dir: Path) -> dict | None:
    """A run folder's edge_vs_cloud.json, or None when the run was not compared with the cloud."""
    path = Path(run_dir) / TABLE_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise MeasurementError(f"{path} is not valid JSON ({error}); re-run `hilbench "
                               "edge-vs-cloud` on the run") from None


def describe_comparison(comparison: RunComparison) -> str:
    """What the table rests on and where it went: the lines printed under the table."""
    lines = []
    for name, measurement in sorted(comparison.cloud.items()):
        compute = ("n/a" if measurement.server_compute_ms_p50 is None
                   else f"{measurement.server_compute_ms_p50:.3f} ms")
        lines.append(f"cloud {name}: {measurement.requests} requests, round trip p50 "
                     f"{measurement.round_trip_ms_p50:.3f} ms ({measurement.round_trip_source}), "
                     f"server compute p50 {compute} ({measurement.compute_source}), "
                     f"accuracy {measurement.accuracy:.4f} (server, float model)")
    for model, why in sorted(comparison.skipped.items()):
        lines.append(f"skipped {model}: {why}")
    lines.append("network time, radio energy and bytes on air are modeled from the network "
                 "profiles (label 'model'); the cloud side's energy counts the device's radio "
                 "only and is a lower bound")
    lines.append(f"wrote {comparison.table_csv} and {comparison.table_json}; filled "
                 f"cloud_latency_ms, bytes_on_air_edge, bytes_on_air_cloud in "
                 f"{comparison.run_dir / RESULTS_CSV} for network '{comparison.row_network}'")
    return "\n".join(lines)
