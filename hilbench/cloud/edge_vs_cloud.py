"""The edge-versus-cloud table: per model and board, run on the device or send the input to the cloud.

Edge side (from the board's result row): accuracy, latency p50 and energy per inference as the
board measured them, with that row's labels; bytes on air = the result only (e.g. a class id).

Cloud side (one row per network profile): accuracy of the float model on the server, latency p50
= measured round trip to the server (host clock; includes the server's compute) + modeled network
time (round trip + uplink of the raw input), device energy = modeled radio energy to send the raw
input, bytes on air = raw input + protocol overhead (see network.py). What the device spends while
waiting for the answer, and receiving it, is not counted: the cloud side's energy is a lower bound.

Inputs are plain data: the edge row is a dict with RESULT_COLUMNS keys, the cloud side a
CloudMeasurement. Every number in the output has a label column saying where it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hilbench.cloud.measure import CloudMeasurement
from hilbench.cloud.network import MODEL_LABEL, NetworkProfile, get_profile, load_profiles, uplink_cost
from hilbench.errors import MeasurementError
from hilbench.record.schema import ENERGY_SOURCES, LATENCY_SOURCES, MODES
from hilbench.report.table import format_text_table

EDGE = "edge"
CLOUD = "cloud"
CLOUD_LATENCY_LABEL = "host-clock+model"
CLOUD_ACCURACY_LABEL = "measured (server, float model)"

TABLE_COLUMNS = (
    "model", "board", "side", "network", "mode",
    "accuracy", "accuracy_source",
    "latency_ms_p50", "latency_source",
    "server_compute_ms_p50", "server_compute_source",
    "round_trip_ms_p50", "round_trip_source",
    "network_ms", "network_source",
    "energy_uj", "energy_source",
    "bytes_on_air", "bytes_on_air_source",
)


def _number(row: Mapping, column: str, required: bool = True) -> float | None:
    value = row.get(column)
    if value is None or value == "":
        if required:
            raise MeasurementError(f"edge result row for board '{row.get('board')}' has no '{column}'; the edge-vs-cloud table needs it")
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise MeasurementError(f"edge result row column '{column}' is not a number: {value!r}") from error


def _check_labels(edge_row: Mapping) -> None:
    for column, allowed in (("mode", MODES), ("latency_source", LATENCY_SOURCES), ("energy_source", ENERGY_SOURCES)):
        value = edge_row.get(column, "") or ""
        if value not in allowed:
            raise MeasurementError(f"edge result row has {column}={value!r}; expected one of {allowed}")


def edge_table_row(edge_row: Mapping, result_bytes: int = 1) -> dict:
    """The edge side of the table from a board's result row (RESULT_COLUMNS keys)."""
    _check_labels(edge_row)
    energy_source = edge_row.get("energy_source", "") or ""
    energy = _number(edge_row, "energy_uj", required=False) if energy_source else None
    return {
        "model": edge_row.get("model", ""),
        "board": edge_row.get("board", ""),
        "side": EDGE,
        "network": "",
        "mode": edge_row["mode"],
        "accuracy": _number(edge_row, "accuracy", required=False),
        "accuracy_source": f"measured ({edge_row['mode']})",
        "latency_ms_p50": _number(edge_row, "latency_ms_p50"),
        "latency_source": edge_row["latency_source"],
        "server_compute_ms_p50": None,
        "server_compute_source": "",
        "round_trip_ms_p50": None,
        "round_trip_source": "",
        "network_ms": None,
        "network_source": "",
        "energy_uj": energy,
        "energy_source": energy_source,
        # The result only (e.g. a class id); its protocol framing is not counted.
        "bytes_on_air": result_bytes,
        "bytes_on_air_source": MODEL_LABEL,
    }


def cloud_table_row(
    edge_row: Mapping,
    cloud: CloudMeasurement,
    profile: NetworkProfile,
    input_bytes_per_element: int = 1,
) -> dict:
    """The cloud side of the table for one network profile.

    The device sends its raw input: ``cloud.input_elements`` x ``input_bytes_per_element``
    (1 for the int8 tensor an edge model consumes).
    """
    raw_input_bytes = cloud.input_elements * input_bytes_per_element
    network = uplink_cost(raw_input_bytes, profile)
    return {
        "model": edge_row.get("model", cloud.model),
        "board": edge_row.get("board", ""),
        "side": CLOUD,
        "network": profile.name,
        "mode": "host",
        "accuracy": cloud.accuracy,
        "accuracy_source": CLOUD_ACCURACY_LABEL if cloud.accuracy is not None else "",
        "latency_ms_p50": cloud.round_trip_ms_p50 + network.network_ms,
        "latency_source": CLOUD_LATENCY_LABEL,
        "server_compute_ms_p50": cloud.server_compute_ms_p50,
        "server_compute_source": cloud.compute_source,
        "round_trip_ms_p50": cloud.round_trip_ms_p50,
        "round_trip_source": cloud.round_trip_source,
        "network_ms": network.network_ms,
        "network_source": MODEL_LABEL,
        "energy_uj": network.radio_energy_uj,
        "energy_source": MODEL_LABEL,
        "bytes_on_air": network.bytes_on_air,
        "bytes_on_air_source": MODEL_LABEL,
    }


def edge_vs_cloud_rows(
    edge_rows: Sequence[Mapping],
    cloud_by_model: Mapping[str, CloudMeasurement],
    networks: Sequence[str] = ("wifi", "lte", "nb-iot", "lora", "ble"),
    profiles: Mapping[str, NetworkProfile] | None = None,
    result_bytes: int = 1,
    input_bytes_per_element: int = 1,
) -> list[dict]:
    """Rows of the table: for each edge row, its edge row then one cloud row per network.

    ``cloud_by_model`` maps the edge rows' ``model`` to the cloud measurement of that model's
    float version.
    """
    profiles = dict(profiles) if profiles is not None else load_profiles()
    rows = []
    for edge_row in edge_rows:
        model = edge_row.get("model", "")
        if model not in cloud_by_model:
            raise MeasurementError(f"no cloud measurement for model '{model}' (have: {', '.join(sorted(cloud_by_model)) or 'none'})")
        rows.append(edge_table_row(edge_row, result_bytes=result_bytes))
        for network in networks:
            rows.append(cloud_table_row(edge_row, cloud_by_model[model], get_profile(network, profiles), input_bytes_per_element))
    return rows


def cloud_result_columns(
    edge_row: Mapping,
    cloud: CloudMeasurement,
    profile: NetworkProfile,
    result_bytes: int = 1,
    input_bytes_per_element: int = 1,
) -> dict:
    """The result row's cloud columns (cloud_latency_ms, bytes_on_air_edge, bytes_on_air_cloud)
    for one network profile; the record stage merges them into the board's result row."""
    cloud_row = cloud_table_row(edge_row, cloud, profile, input_bytes_per_element)
    return {
        "cloud_latency_ms": cloud_row["latency_ms_p50"],
        "bytes_on_air_edge": result_bytes,
        "bytes_on_air_cloud": cloud_row["bytes_on_air"],
    }


def _cell(value: float | None, label: str, digits: int) -> str:
    if value is None:
        return "n/a" if not label else f"n/a ({label})"
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return f"{text} ({label})" if label else text


def format_table(rows: Sequence[Mapping]) -> str:
    """Plain-text table; every figure is followed by its label in parentheses.

    For cloud rows, latency = round trip to the server (host clock, includes its compute) +
    network time (model); both parts and the server's own compute time are shown.
    """
    header = (
        "model", "board", "side", "network", "accuracy", "latency p50 ms",
        "round trip ms", "network ms", "server compute ms", "device energy uJ", "bytes on air",
    )
    body = []
    for row in rows:
        side = row["side"] if row["side"] == CLOUD else f"{row['side']} [{row['mode']}]"
        is_cloud = row["side"] == CLOUD
        body.append((
            str(row["model"]), str(row["board"]), side, row["network"] or "-",
            _cell(row["accuracy"], row["accuracy_source"] if row["accuracy"] is not None else "", 4),
            _cell(row["latency_ms_p50"], row["latency_source"], 3),
            _cell(row["round_trip_ms_p50"], row["round_trip_source"], 3) if is_cloud else "-",
            _cell(row["network_ms"], row["network_source"], 1) if is_cloud else "-",
            _cell(row["server_compute_ms_p50"], row["server_compute_source"], 3) if is_cloud else "-",
            _cell(row["energy_uj"], row["energy_source"], 1),
            _cell(row["bytes_on_air"], row["bytes_on_air_source"], 0),
        ))
    return format_text_table(header, body)


__all__ = [
    "TABLE_COLUMNS",
    "cloud_result_columns",
    "cloud_table_row",
    "edge_table_row",
    "edge_vs_cloud_rows",
    "format_table",
]
