"""Edge-versus-cloud rows and table against hand-computed values from the profile data."""

from __future__ import annotations

import numpy as np
import pytest

from hilbench.cloud.client import COMPUTE_SOURCE_NOT_REPORTED, COMPUTE_SOURCE_RESPONSE
from hilbench.cloud.edge_vs_cloud import cloud_result_columns, edge_vs_cloud_rows, format_table
from hilbench.cloud.measure import CloudMeasurement, percentile_ms, top1_accuracy
from hilbench.cloud.network import get_profile
from hilbench.errors import MeasurementError
from hilbench.record.schema import RESULT_COLUMNS


def edge_row(**overrides) -> dict:
    row = dict.fromkeys(RESULT_COLUMNS, "")
    row.update(
        board="nucleo-l4r5zi", mode="emulated", model="ad01", runtime="hilbench",
        latency_source="icount", latency_ms_p50=4.82, energy_source="model", energy_uj=198.5,
        accuracy=0.875, accuracy_float=0.9,
    )
    row.update(overrides)
    return row


def cloud_measurement(**overrides) -> CloudMeasurement:
    fields = dict(
        model="ad01_fp32", server_url="http://127.0.0.1:9", requests=4,
        round_trip_ms=(1.0, 1.2, 1.4, 3.0), round_trip_ms_p50=1.3, round_trip_ms_p90=2.52,
        server_compute_ms_p50=0.05, server_compute_ms_p90=0.07, compute_source=COMPUTE_SOURCE_RESPONSE,
        accuracy=0.9, input_elements=640, outputs={},
    )
    fields.update(overrides)
    return CloudMeasurement(**fields)


def test_rows_by_hand_for_lora_and_wifi():
    rows = edge_vs_cloud_rows([edge_row()], {"ad01": cloud_measurement()}, networks=("lora", "wifi"))
    edge, lora, wifi = rows
    assert edge == {
        "model": "ad01", "board": "nucleo-l4r5zi", "side": "edge", "network": "", "mode": "emulated",
        "accuracy": 0.875, "accuracy_source": "measured (emulated)",
        "latency_ms_p50": 4.82, "latency_source": "icount",
        "server_compute_ms_p50": None, "server_compute_source": "",
        "round_trip_ms_p50": None, "round_trip_source": "",
        "network_ms": None, "network_source": "",
        "energy_uj": 198.5, "energy_source": "model",
        "bytes_on_air": 1, "bytes_on_air_source": "model",
    }
    # LoRa: 640 B in 3 frames -> 679 B; 1000 ms + 679*8/5470 s; 679 x 139.96 uJ.
    assert lora["side"] == "cloud" and lora["network"] == "lora" and lora["mode"] == "host"
    assert lora["bytes_on_air"] == 679
    assert lora["network_ms"] == pytest.approx(1993.0530164533820)
    assert lora["latency_ms_p50"] == pytest.approx(1.3 + 1993.0530164533820)
    assert lora["latency_source"] == "host-clock+model"
    assert lora["energy_uj"] == pytest.approx(95032.84)
    assert (lora["energy_source"], lora["network_source"], lora["bytes_on_air_source"]) == ("model", "model", "model")
    assert (lora["round_trip_ms_p50"], lora["round_trip_source"]) == (1.3, "host-clock")
    assert (lora["server_compute_ms_p50"], lora["server_compute_source"]) == (0.05, "response-parameter")
    assert (lora["accuracy"], lora["accuracy_source"]) == (0.9, "measured (server, float model)")
    # Wi-Fi: 640 B in one 1024 B block -> 672 B; 21 ms + 672*8/20e6 s; 672 x 0.2376 uJ.
    assert wifi["bytes_on_air"] == 672
    assert wifi["latency_ms_p50"] == pytest.approx(1.3 + 21 + 0.2688)
    assert wifi["energy_uj"] == pytest.approx(159.6672)


def test_input_bytes_per_element_scales_the_payload():
    (_, lte) = edge_vs_cloud_rows([edge_row()], {"ad01": cloud_measurement()}, networks=("lte",), input_bytes_per_element=4)
    # 2560 B float32 input: 3 blocks -> 2560 + 3 x 32 = 2656 B at 16.444 uJ/B.
    assert lte["bytes_on_air"] == 2656
    assert lte["energy_uj"] == pytest.approx(2656 * 16.444)


def test_result_row_columns():
    columns = cloud_result_columns(edge_row(), cloud_measurement(), get_profile("ble"), result_bytes=2)
    # 640 B in ceil(640/244) = 3 packets of 21 B -> 703 B; 36 ms + 703*8/1e6 s + 1.3 ms measured.
    assert columns == {
        "cloud_latency_ms": pytest.approx(1.3 + 36 + 5.624),
        "bytes_on_air_edge": 2,
        "bytes_on_air_cloud": 703,
    }
    assert set(columns) <= set(RESULT_COLUMNS)


def test_table_shows_every_label():
    rows = edge_vs_cloud_rows(
        [edge_row(energy_source="", energy_uj="")],
        {"ad01": cloud_measurement(server_compute_ms_p50=None, compute_source=COMPUTE_SOURCE_NOT_REPORTED)},
        networks=("nb-iot",),
    )
    text = format_table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["model", "board", "side", "network"]
    assert "edge [emulated]" in lines[2] and "4.820 (icount)" in lines[2] and "0.8750 (measured (emulated))" in lines[2]
    assert "n/a" in lines[2]  # no energy measured on the edge: shown as such, not as 0
    assert "(host-clock+model)" in lines[3] and "n/a (not-reported)" in lines[3] and "1.300 (host-clock)" in lines[3]
    assert "(model)" in lines[3] and "nb-iot" in lines[3]


def test_missing_or_bad_edge_figures_are_explained():
    with pytest.raises(MeasurementError, match="has no 'latency_ms_p50'"):
        edge_vs_cloud_rows([edge_row(latency_ms_p50="")], {"ad01": cloud_measurement()})
    with pytest.raises(MeasurementError, match="latency_source='stopwatch'"):
        edge_vs_cloud_rows([edge_row(latency_source="stopwatch")], {"ad01": cloud_measurement()})
    with pytest.raises(MeasurementError, match="no cloud measurement for model 'ad01' \\(have: kws\\)"):
        edge_vs_cloud_rows([edge_row()], {"kws": cloud_measurement()})


def test_csv_strings_are_accepted_as_numbers():
    (edge, _) = edge_vs_cloud_rows([edge_row(latency_ms_p50="4.82", accuracy="0.875", energy_uj="198.5")], {"ad01": cloud_measurement()}, networks=("wifi",))
    assert (edge["latency_ms_p50"], edge["accuracy"], edge["energy_uj"]) == (4.82, 0.875, 198.5)


def test_top1_accuracy_and_percentiles_by_hand():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert top1_accuracy(scores, [1, 0, 0, 0]) == 0.75
    with pytest.raises(MeasurementError, match="4 outputs but 3 labels"):
        top1_accuracy(scores, [1, 0, 0])
    with pytest.raises(MeasurementError, match=r"class indices in \[0, 1\]"):
        top1_accuracy(scores, [1, 0, 2, 0])
    # Linear interpolation: p50 of 1, 1.2, 1.4, 3.0 = 1.3; p90 = 1.4 + 0.7 x 1.6 = 2.52.
    assert percentile_ms([1.0, 1.2, 1.4, 3.0], 50) == pytest.approx(1.3)
    assert percentile_ms([1.0, 1.2, 1.4, 3.0], 90) == pytest.approx(2.52)
