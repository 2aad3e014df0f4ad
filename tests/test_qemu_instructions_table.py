"""benchmarks/instructions_table.py end to end: one model on one twin, twice."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hilbench.calibration.published import BENCHMARK_MODELS, load_tflm_counts
from hilbench.paths import REPO_DIR
from tests.support.mlperf_tiny import mlperf_tiny_model

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

SCRIPT = Path(REPO_DIR) / "benchmarks" / "instructions_table.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def readme_instructions(model: str, core_column: str) -> str:
    """A cell of the README's instruction table (the first table with that core column)."""
    lines = (Path(REPO_DIR) / "README.md").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| model |") and core_column in line)
    columns = [cell.strip() for cell in lines[header].strip("|").split("|")]
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == model:
            return cells[columns.index(core_column)]
    raise AssertionError(f"the README's instruction table has no row for {model}")


@pytest.mark.parametrize("model, least_instructions, least_flash_kib", [
    ("zoo/kws", 1, 0),   # always here
    # MLPerf Tiny: at least one instruction per MAC; the weights alone are 23.75 KiB
    ("kws_ref_model", 2_660_000, 24320 / 1024),
])
def test_table_is_labelled_and_repeats_exactly(model, least_instructions, least_flash_kib):
    if model == "kws_ref_model":
        mlperf_tiny_model(model)   # skipped without the MLPerf Tiny models
    first = _run("--models", model, "--targets", "mps2-an386")
    assert first.returncode == 0, first.stderr
    assert "QEMU 7.2 instruction counts (-icount shift=7), not cycles" in first.stdout
    assert "| model | cortex-m4 (mps2-an386) |" in first.stdout
    name = re.escape(model)
    # An MLPerf Tiny model's row ends with its count over TFLM + CMSIS-NN's on the same twin.
    row = re.search(rf"^\| {name} \| ([0-9,]+) \|(?: ([0-9.]+) \|)?$", first.stdout, re.MULTILINE)
    assert row, first.stdout
    count = int(row.group(1).replace(",", ""))
    assert count >= least_instructions
    tflm = {BENCHMARK_MODELS[b]: c for b, c in load_tflm_counts(kernels="cmsis-nn").items()}
    if model in tflm:
        assert "× TFLM + CMSIS-NN (M4) |" in first.stdout
        assert row.group(2) == f"{count / tflm[model]:.3f}"
    else:
        assert row.group(2) is None
    if model == "kws_ref_model":
        # The README's table is this script's output: a runtime change must republish it.
        assert row.group(1) == readme_instructions(model, "cortex-m4 (mps2-an386)")
    footprint = re.search(rf"^\| {name} \| ([0-9.]+) / ([0-9.]+) \|$", first.stdout, re.MULTILINE)
    assert footprint and float(footprint.group(1)) > least_flash_kib
    assert _run("--models", model, "--targets", "mps2-an386").stdout == first.stdout


def test_unknown_model_is_refused_with_the_known_ones():
    result = _run("--models", "no_such_model")
    assert result.returncode == 2
    assert re.search(r"unknown model\(s\) no_such_model \(known: .*zoo/kws", result.stderr)
