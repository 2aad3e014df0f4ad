"""Result-row validation and the CSV encoding (neutralised text, exact numbers).

Also home of ``sample_row``, the builder of realistic rows the results tests share. Its
figures are in the range of MLPerf Tiny reference results (TFLM + CMSIS-NN on Cortex-M4
boards); they are test inputs, not measurements.
"""

from __future__ import annotations

import csv

import pytest

from hilbench.record.rows import ResultsError, read_results_csv, validate_row, write_results_csv
from hilbench.record.schema import RESULT_COLUMNS, SCHEMA_VERSION

# (latency p50 ms at 80 MHz Cortex-M4, accuracy float, int8 accuracy, flash, ram)
MODEL_FIGURES = {
    "kws01": (181.0, 0.9203, 0.9168, 52_504, 22_736),
    "vww01": (603.0, 0.8602, 0.8533, 325_472, 99_072),
    "ic01": (704.0, 0.8765, 0.8729, 96_952, 54_376),
    "ad01": (10.4, 0.8587, 0.8581, 270_336, 4_608),
}
CORE = {"nano33": ("cortex-m4", 64_000_000), "nucleo-l4r5zi": ("cortex-m4", 120_000_000),
        "nucleo-h7a3zi": ("cortex-m7", 280_000_000), "host": ("x86_64", 0)}


def sample_row(board: str = "nucleo-l4r5zi", model: str = "kws01", mode: str = "hardware",
               latency_source: str | None = None, energy_source: str | None = None,
               slower_by: float = 1.0, run_id: str = "20261126T101500.000Z-a1b2c3",
               timestamp: str = "2026-11-26T10:15:00.000+00:00", **overrides) -> dict:
    """A complete, valid result row for ``board`` x ``model`` in ``mode``."""
    latency, accuracy_float, accuracy, flash, ram = MODEL_FIGURES[model]
    core, clock_hz = CORE[board]
    latency *= slower_by * (120e6 / clock_hz if clock_hz else 0.02)
    latency_source = latency_source or {"hardware": "device-timer", "emulated": "icount",
                                        "host": "host-clock"}[mode]
    if energy_source is None:
        energy_source = {"hardware": "probe", "emulated": "model", "host": ""}[mode]
    # ~ 30 mW active power for a Cortex-M4 at full speed
    energy = latency * 30.0 if energy_source else None
    row = {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "timestamp": timestamp,
        "git_sha": "4e8c72fa987b4df8c8d0920bfd7a2552ee8904e4", "hilbench_version": "0.1.0",
        "board": board, "mode": mode, "core": core, "clock_hz": clock_hz or None,
        "model": model, "runtime": "hilbench-int8",
        "latency_source": latency_source, "latency_ms_p50": round(latency, 4),
        "latency_ms_p90": round(latency * 1.012, 4),
        "cycles_per_inference": round(latency * 1e-3 * clock_hz) if clock_hz else None,
        "energy_source": energy_source, "energy_uj": energy,
        "accuracy": accuracy, "accuracy_float": accuracy_float,
        "accuracy_delta": accuracy - accuracy_float, "bitexact_rate": 1.0,
        "flash_bytes": flash, "ram_bytes": ram,
        "cloud_latency_ms": None, "bytes_on_air_edge": None, "bytes_on_air_cloud": None,
    }
    row.update(overrides)
    return row


def test_sample_row_is_valid_and_complete():
    row = validate_row(sample_row())
    assert tuple(row) == RESULT_COLUMNS
    assert row["accuracy_delta"] < 0


@pytest.mark.parametrize("change, message", [
    ({"mode": "simulated"}, "mode 'simulated' is not one of hardware, emulated, host"),
    ({"board": ""}, "column 'board' is empty"),
    ({"latency_source": ""}, "without a latency_source"),
    ({"latency_source": "wallclock"}, "latency_source 'wallclock' is not one of"),
    ({"mode": "hardware", "latency_source": "icount"}, "cannot come from mode 'hardware'"),
    ({"mode": "emulated", "latency_source": "icount", "energy_source": "probe"},
     "energy_source 'probe' cannot come from mode 'emulated'"),
    ({"energy_source": ""}, "energy_uj given without an energy_source"),
    ({"energy_uj": None}, "leave energy_source empty when energy was not measured"),
    ({"accuracy": 91.68}, "rates are fractions in [0, 1]"),
    ({"latency_ms_p50": "fast"}, "column 'latency_ms_p50' must be a number"),
    ({"latency_ms_p50": float("nan")}, "leave a figure that was not measured empty"),
    ({"flash_bytes": -1}, "column 'flash_bytes' is negative"),
    ({"latency_ms_mean": 3.0}, "unknown column(s) latency_ms_mean"),
    ({"timestamp": "2026-11-26 18:39"}, "is not ISO 8601 with a time zone"),
    ({"timestamp": "yesterday"}, "is not ISO 8601 with a time zone"),
])
def test_invalid_rows_are_rejected_with_the_reason(change, message):
    row = sample_row()
    row.update(change)
    with pytest.raises(ResultsError) as error:
        validate_row(row)
    assert message in str(error.value)
    assert "/kws01/hilbench-int8/" in str(error.value)  # names the row


def test_csv_round_trip_is_exact(tmp_path):
    rows = [sample_row(), sample_row("nano33", "vww01", "emulated", accuracy_delta=-0.5 / 100),
            sample_row("host", "ad01", "host")]
    path = tmp_path / "results.csv"
    write_results_csv(path, rows)
    assert read_results_csv(path) == [validate_row(row) for row in rows]


def test_spreadsheet_formulas_are_neutralised_but_numbers_stay_numbers(tmp_path):
    hostile = sample_row(accuracy_delta=-0.005, run_id="'quoted")
    hostile.update(runtime="=HYPERLINK(\"http://x\")", core="+cmd|' /C calc'!A0",
                   git_sha="@SUM(1+1)", hilbench_version="-2+3", board="\tnano", model="\rkws")
    path = tmp_path / "results.csv"
    write_results_csv(path, [hostile])
    with open(path, newline="") as stream:
        header, cells = list(csv.reader(stream))
    written = dict(zip(header, cells))
    for column in ("runtime", "core", "git_sha", "hilbench_version", "board", "model"):
        assert written[column].startswith("'"), column
    assert written["accuracy_delta"] == "-0.005"   # a real negative number stays numeric
    assert written["run_id"] == "''quoted"
    back = read_results_csv(path)[0]
    assert back["runtime"] == hostile["runtime"] and back["board"] == "\tnano"
    assert back["run_id"] == "'quoted" and back["accuracy_delta"] == -0.005


def test_rows_in_files_need_their_run(tmp_path):
    with pytest.raises(ResultsError, match="timestamp empty; rows in a results file come from"):
        write_results_csv(tmp_path / "results.csv", [sample_row(timestamp="")])


def test_numeric_looking_text_is_not_neutralised(tmp_path):
    path = tmp_path / "results.csv"
    write_results_csv(path, [sample_row(hilbench_version="-1")])
    assert ",-1," in path.read_text()


def test_schema_version_mismatch_is_a_clear_error(tmp_path):
    path = tmp_path / "results.csv"
    write_results_csv(path, [sample_row()])
    text = path.read_text().splitlines()
    text[1] = "2" + text[1][1:]
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ResultsError, match=r"line 2: schema_version is 2, this hilbench reads "
                                           r"schema_version 1"):
        read_results_csv(path)


def test_foreign_csv_and_changed_header_are_rejected(tmp_path):
    foreign = tmp_path / "other.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(ResultsError, match="not a hilbench results CSV"):
        read_results_csv(foreign)
    changed = tmp_path / "changed.csv"
    write_results_csv(changed, [sample_row()])
    changed.write_text(changed.read_text().replace("energy_uj", "energy_mj", 1))
    with pytest.raises(ResultsError, match="missing: energy_uj; unexpected: energy_mj"):
        read_results_csv(changed)
    with pytest.raises(ResultsError, match="does not exist"):
        read_results_csv(tmp_path / "nope.csv")


def test_a_file_written_before_the_cpi_columns_is_still_read(tmp_path):
    path = tmp_path / "old.csv"
    write_results_csv(path, [sample_row(mode="emulated", cpi=1.5, cpi_source="lab")])
    lines = path.read_text().splitlines()
    # drop the two later columns, as a file from before they existed has them
    path.write_text("\r\n".join(line.rsplit(",", 2)[0] for line in lines) + "\r\n")
    [row] = read_results_csv(path)
    assert (row["cpi"], row["cpi_source"]) == (None, "")
    assert row["latency_ms_p50"] == sample_row(mode="emulated")["latency_ms_p50"]


def test_cpi_is_emulated_only_and_names_its_source():
    with pytest.raises(ResultsError, match="cpi is set on a hardware row"):
        validate_row(sample_row(cpi=1.2, cpi_source="lab"))
    with pytest.raises(ResultsError, match="cpi_source"):
        validate_row(sample_row(mode="emulated", cpi=1.2))
    assert validate_row(sample_row(mode="emulated", cpi=1.2, cpi_source="lab"))["cpi"] == 1.2
