"""`hilbench calibrate`: CPI fitted on published CMSIS-NN results, cross-validated, shipped in
the catalog; power profiles against published energy; rows that say which CPI they used."""

from __future__ import annotations

import csv
import math
import re
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from hilbench.bench import Dut
from hilbench.boards import load_boards
from hilbench.boards.resolve import ResolvedBoard
from hilbench.calibration import cpi_fit, power
from hilbench.calibration.cli import calibrate, catalog_differences
from hilbench.calibration.published import (PUBLISHED_CSV, TFLM_COUNTS_CSV, load_published,
                                            software_family)
from hilbench.cli import main
from hilbench.errors import ConfigError

LAST_LINE = re.compile(r"^median absolute error: (\d+\.\d)% over (\d+) pairs$")


def published_rows() -> list[dict]:
    with open(PUBLISHED_CSV, newline="") as stream:
        return list(csv.DictReader(stream))


def tflm_cmsis_counts() -> dict[str, float]:
    with open(TFLM_COUNTS_CSV, newline="") as stream:
        return {row["benchmark"]: float(row["instructions"]) for row in csv.DictReader(stream)
                if row["kernels"] == "cmsis-nn"}


def test_the_shipped_table_is_the_published_data_set():
    rows = published_rows()
    assert len(rows) == 243
    assert sum(1 for row in rows if row["energy_uj"]) == 107
    assert (Path(PUBLISHED_CSV).parent / "PROVENANCE.md").read_text().count("tiny_results_v") >= 6


def test_calibrate_ends_with_the_median_error_line(capsys):
    assert main(["calibrate"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    # The catalog boards' pairs: the L4R5ZI's four models under two CMSIS-NN software families.
    assert int(match.group(2)) == 8
    assert float(match.group(1)) <= 20.0   # the goal; the figure itself is in the report


def test_a_prediction_is_the_cpi_of_the_other_models_worked_by_hand():
    # v0.5 reference, Nucleo-L4R5ZI, kws predicted from vww, ic and ad only.
    rows = {row["benchmark"]: row for row in published_rows()
            if row["round"] == "v0.5" and row["submitter"] == "reference"}
    counts = tflm_cmsis_counts()
    observed = {name: float(row["latency_ms"]) * 1e-3 * 120e6 / counts[name]
                for name, row in rows.items()}
    cpi = math.prod(observed[name] for name in ("vww", "ic", "ad")) ** (1 / 3)
    expected_ms = counts["kws"] * cpi / 120e6 * 1e3

    validated = calibrate()
    [pair] = validated[(validated["family"] == "TFLM v2.3.1 + CMSIS-NN")
                       & (validated["benchmark"] == "kws")].itertuples()
    assert pair.predicted_ms == pytest.approx(expected_ms, rel=1e-9)
    assert pair.error_pct == pytest.approx((expected_ms / 181.917 - 1) * 100, rel=1e-9)


def test_only_cmsis_nn_software_is_fitted_and_x_cube_ai_changes_nothing(tmp_path):
    validated = calibrate()
    assert set(validated["family"]) == {"TFLM v2.3.1 + CMSIS-NN", "TFLM + CMSIS-NN",
                                        "microTVM + CMSIS-NN"}
    # Cortex-M85 rows are never predicted from the M4 counts (no proxy).
    assert "EK-RA8D1" not in set(validated["board"])
    # Tenfold X-CUBE-AI latencies: not one prediction moves.
    rows = published_rows()
    for row in rows:
        if "X-CUBE-AI" in row["software"]:
            row["latency_ms"] = str(float(row["latency_ms"]) * 10)
    tampered = tmp_path / "published.csv"
    with open(tampered, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    again = calibrate(tampered)
    assert again["predicted_ms"].tolist() == validated["predicted_ms"].tolist()


def test_reproductions_are_one_pair_with_every_source():
    validated = calibrate()
    [kws] = validated[(validated["board"] == "NUCLEO-L4R5ZI") & (validated["benchmark"] == "kws")
                      & (validated["family"] == "microTVM + CMSIS-NN")].itertuples()
    assert kws.published_rows == 3 and kws.submitters == "OctoML, cTuning, Krai"
    assert kws.sources.count("tiny_results_v1.1") == 2


def test_unknown_software_is_an_error_not_a_guess():
    with pytest.raises(ConfigError, match="matches no family"):
        software_family("Some New Engine 1.0")


def test_the_catalog_ships_the_fitted_cpi_and_power():
    catalog = load_boards(cwd=Path("/nonexistent"))
    validated = calibrate()
    fitted = cpi_fit.board_cpis(validated)
    refits = power.refits(load_published(), catalog)
    assert set(fitted) == {"nucleo-l4r5zi"}
    assert set(refits) == {"nucleo-l4r5zi", "nucleo-h7a3zi"}
    assert catalog_differences(fitted, refits, catalog) == []
    board = catalog.get("nucleo-l4r5zi")
    assert board.cpi_calibration.error_band_pct == pytest.approx(fitted["nucleo-l4r5zi"].error_band_pct, abs=0.05)
    for name in ("nano33", "nucleo-h7a3zi", "nucleo-u575zi", "an547"):
        assert catalog.get(name).cpi == 1.0 and catalog.get(name).cpi_calibration is None


def test_a_catalog_that_drifts_from_the_fit_is_reported(tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("boards:\n  nucleo-l4r5zi:\n    power_profile: {active_ma: 13.2}\n")
    catalog = load_boards(lab)
    notes = catalog_differences(cpi_fit.board_cpis(calibrate()),
                                power.refits(load_published(), catalog), catalog)
    assert notes and "active_ma 13.2" in notes[0]


def test_power_carries_over_only_for_an_ldo_or_the_catalog_voltage():
    checks = power.power_check(load_published(), load_boards(cwd=Path("/nonexistent")))
    by_setup = {(row.catalog_board, row.round, row.submitter): row for row in checks.itertuples()}
    assert by_setup["nucleo-l4r5zi", "v1.2", "STMicroelectronics"].refit          # 1.8 V, LDO
    assert not by_setup["nucleo-l4r5zi", "v1.3", "STMicroelectronics"].refit      # L4R5ZI-P, 3 V SMPS
    assert by_setup["nucleo-h7a3zi", "v1.0", "STMicroelectronics"].refit          # 3.3 V SMPS
    assert not by_setup["nucleo-h7a3zi", "v1.2", "STMicroelectronics"].refit      # 3 V SMPS
    assert not by_setup["nucleo-u575zi", "v1.2", "STMicroelectronics"].refit      # 1.8 V SMPS
    assert not by_setup["nucleo-l4r5zi", "v1.0", "OctoML"].refit                  # no stated voltage
    # worked by hand from the published rows: energy / latency, median over the four models
    powers = sorted(float(r["energy_uj"]) / float(r["latency_ms"]) for r in published_rows()
                    if r["round"] == "v1.2" and r["submitter"] == "STMicroelectronics"
                    and r["board"] == "NUCLEO-L4R5ZI")
    row = by_setup["nucleo-l4r5zi", "v1.2", "STMicroelectronics"]
    assert row.power_mw == pytest.approx((powers[1] + powers[2]) / 2)
    assert row.current_ma == pytest.approx(row.power_mw / 1.8)


def test_a_lab_cpi_replaces_the_catalog_calibration(tmp_path):
    lab = tmp_path / "rack.yaml"
    lab.write_text(textwrap.dedent("""\
        boards:
          nucleo-l4r5zi:
            cpi: 1.31
          l4-scoped:
            extends: nucleo-l4r5zi
            cpi: 1.42
            cpi_calibration: {source: "DWT cycle counter on our board, kws", error_band_pct: 2}
          l4-inherits:
            extends: nucleo-l4r5zi
        """))
    catalog = load_boards(lab)
    assert catalog.get("nucleo-l4r5zi").cpi_source == f"set in {lab}"
    assert catalog.get("l4-scoped").cpi_source == (
        "DWT cycle counter on our board, kws (cross-validated error up to 2%)")
    # extends the lab's own nucleo-l4r5zi, CPI and source together
    assert (catalog.get("l4-inherits").cpi, catalog.get("l4-inherits").cpi_source) == (1.31, f"set in {lab}")
    lab.write_text("boards:\n  l4-second:\n    extends: nucleo-l4r5zi\n")
    second = load_boards(lab).get("l4-second")
    assert second.cpi == 1.545 and "MLPerf Tiny" in second.cpi_source


def test_a_lab_cpi_calibration_is_validated(tmp_path):
    lab = tmp_path / "bad.yaml"
    lab.write_text("boards:\n  nano33:\n    cpi: 1.2\n    cpi_calibration: {source: x, error_band_pct: -3}\n")
    with pytest.raises(ConfigError, match=r"cpi_calibration\.error_band_pct"):
        load_boards(lab)


def emulated_dut(board_name: str) -> Dut:
    board = load_boards(cwd=Path("/nonexistent")).get(board_name)
    resolved = ResolvedBoard(board=board, mode="emulated", firmware_target="mps2-an386")
    endpoint = SimpleNamespace(mode="emulated", latency_source="icount")
    return Dut(board=resolved, model_path=Path("kws_ref_model.tflite"), model=None, firmware=None,
               endpoint=endpoint, session=None)


def test_an_emulated_row_names_its_cpi_and_source():
    row = emulated_dut("nucleo-l4r5zi").result_row(latency_ms_p50=100.0)
    assert row["cpi"] == 1.545
    assert row["cpi_source"].startswith("MLPerf Tiny published results, microTVM + CMSIS-NN")
    assert row["cpi_source"].endswith("(cross-validated error up to 17.4%)")


def test_the_reality_check_predicts_from_measured_counts(tmp_path):
    from hilbench.calibration import reality
    from hilbench.calibration.published import load_runtime_counts, load_tflm_counts

    counts = tmp_path / "counts.csv"
    counts.write_text("model,benchmark,target,instructions,kernels,opt_level,git_sha,measured_at,"
                      "hilbench_version\nkws_ref_model,kws,mps2-an386,6000000,auto,O2,abc123,"
                      "2026-11-27T00:00:00+00:00,0.1.0\n")
    catalog = load_boards(cwd=Path("/nonexistent"))
    long = reality.reality_check(catalog, load_published(), load_tflm_counts(),
                                 load_runtime_counts(counts))
    table = reality.reality_table(long)
    # 6 M instructions x 1.545 / 120 MHz; the uncalibrated nano33 shares the M4 twin at 64 MHz
    assert table.loc[("nucleo-l4r5zi", "kws"), reality.TWIN_HILBENCH] == f"{6e6 * 1.545 / 120e3:.3g}"
    assert table.loc[("nano33", "kws"), reality.TWIN_HILBENCH] == f"{6e6 / 64e3:.3g}"
    assert table.loc[("nano33", "kws"), "twin cpi"] == "1 (uncalibrated)"
    assert table.loc[("nucleo-l4r5zi", "vww"), reality.TWIN_HILBENCH] == "-"     # not measured
    assert table.loc[("an547", "kws"), reality.TWIN_TFLM] == "-"                 # no M4 proxy on an M55
    assert table.loc[("nucleo-u575zi", "kws"), reality.TWIN_TFLM] == f"{7944293 / 160e3:.3g}"
    assert table.loc[("nucleo-l4r5zi", "kws"), "published: X-CUBE-AI"] == "43.2 (v1.2)"
    labels = long.set_index(["board", "model", "what"])["label"]
    assert labels["nucleo-u575zi", "kws", reality.TWIN_TFLM].endswith("Cortex-M4 count as proxy")
    assert "measured at abc123" in long.set_index(["board", "model", "what"])["source"][
        "nucleo-l4r5zi", "kws", reality.TWIN_HILBENCH]


@pytest.mark.emulator
def test_measure_runtime_writes_counts_from_a_twin(tmp_path):
    from hilbench.calibration.published import load_runtime_counts
    from hilbench.calibration.runtime_counts import measure_runtime_counts
    from hilbench.paths import zoo_root

    nano = load_boards(cwd=Path("/nonexistent")).get("nano33")
    output = tmp_path / "counts.csv"
    written = measure_runtime_counts(SimpleNamespace(boards={"nano33": nano}), output,
                                     {"ad": zoo_root() / "ad" / "int8.tflite"}, log=lambda _: None)
    assert written == 1
    [row] = load_runtime_counts(output).to_dict("records")
    assert (row["benchmark"], row["target"], row["kernels"]) == ("ad", "mps2-an386", "auto")
    assert 10_000 < row["instructions"] < 10_000_000 and len(row["git_sha"]) >= 40


@pytest.mark.parametrize("option", ["--csv", "--plot"])
def test_an_output_into_a_missing_folder_is_refused_before_any_work(tmp_path, capsys, option):
    target = tmp_path / "missing" / "out"
    assert main(["calibrate", option, str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"hilbench: error: {option} {target}: folder {target.parent} does not exist"]


def test_calibrate_writes_its_pairs_and_plot(tmp_path, capsys):
    assert main(["calibrate", "--csv", str(tmp_path / "pairs.csv"),
                 "--plot", str(tmp_path / "plot.svg")]) == 0
    with open(tmp_path / "pairs.csv", newline="") as stream:
        pairs = list(csv.DictReader(stream))
    assert len(pairs) == 16 and all(pair["sources"].startswith("mlcommons/tiny_results_v") for pair in pairs)
    svg = (tmp_path / "plot.svg").read_text()
    assert svg.count('class="hb-mark hb-point hb-estimate"') == 16 and "y = x" in svg


def test_counts_measured_before_a_runtime_change_are_flagged(tmp_path):
    import subprocess

    from hilbench.calibration.runtime_counts import changed_since

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "firmware_targets").mkdir()
    (tmp_path / "firmware_targets" / "conv.c").write_text("int a;\n")
    (tmp_path / "README.md").write_text("x\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    measured = git("rev-parse", "HEAD")
    (tmp_path / "README.md").write_text("y\n")
    assert changed_since(measured, tmp_path) == []           # docs only: the counts still hold
    (tmp_path / "firmware_targets" / "conv.c").write_text("int b;\n")
    assert changed_since(measured, tmp_path) == ["firmware_targets"]
    assert changed_since("0" * 40, tmp_path) == []           # unknown commit: git cannot tell
