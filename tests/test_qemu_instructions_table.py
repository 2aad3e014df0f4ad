"""benchmarks/instructions_table.py end to end: one model on one twin, twice."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hilbench.paths import REPO_DIR
from tests.support.mlperf_tiny import mlperf_tiny_model

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

SCRIPT = Path(REPO_DIR) / "benchmarks" / "instructions_table.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


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
    row = re.search(rf"^\| {name} \| ([0-9,]+) \|$", first.stdout, re.MULTILINE)
    assert row, first.stdout
    assert int(row.group(1).replace(",", "")) >= least_instructions
    footprint = re.search(rf"^\| {name} \| ([0-9.]+) / ([0-9.]+) \|$", first.stdout, re.MULTILINE)
    assert footprint and float(footprint.group(1)) > least_flash_kib
    assert _run("--models", model, "--targets", "mps2-an386").stdout == first.stdout


def test_unknown_model_is_refused_with_the_known_ones():
    result = _run("--models", "no_such_model")
    assert result.returncode == 2
    assert re.search(r"unknown model\(s\) no_such_model \(known: .*zoo/kws", result.stderr)
