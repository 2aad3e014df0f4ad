"""`hilbench measure`: the benchmark procedure from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hilbench.record.schema import RESULT_COLUMNS


def hilbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hilbench.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_measure_on_host_prints_the_row_and_writes_the_figures(tmp_path):
    result = hilbench("measure", "--board=host", "--model=gesture", "--vectors=3",
                      "--json=out.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("host: host")
    assert any(line.startswith("host ") and "gesture" in line and "(host-clock)" in line for line in lines)
    assert any(line.startswith("host gesture: p50 ") and "95% CI" in line for line in lines)
    written = json.loads((tmp_path / "out.json").read_text())
    assert tuple(written["row"]) == RESULT_COLUMNS
    assert written["row"]["bitexact_rate"] == 1.0 and written["row"]["energy_source"] == ""
    assert written["figures"]["vectors"]["count"] == 3
    assert written["figures"]["latency"]["host_round_trip_ms"] > 0


def test_measure_names_a_bad_vector_count(tmp_path):
    result = hilbench("measure", "--board=host", "--model=gesture", "--vectors=0", cwd=tmp_path)
    assert result.returncode == 2 and "max_vectors must be >= 1, got 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_benchmark_scores_the_autoencoder_as_its_model_card_does(tmp_path):
    """ad's AUC has one definition (the reconstruction against the float input, for float and
    int8 alike): a bit-exact benchmark run over all the committed vectors reproduces both of
    the card's figures to the last digit."""
    from hilbench.zoo import get_model

    result = hilbench("measure", "--board=host", "--model=ad", "--json=out.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "out.json").read_text())
    row, card = written["row"], get_model("ad")
    assert written["figures"]["vectors"]["count"] == card.vector_count and row["bitexact_rate"] == 1.0
    assert row["accuracy_float"] == card.accuracy_float
    assert row["accuracy"] == card.accuracy_int8
    assert card.accuracy_int8 != card.accuracy_float   # the two scorers could not agree by accident
