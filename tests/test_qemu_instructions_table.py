"""benchmarks/instructions_table.py end to end: one model on one twin, twice."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hilbench.paths import REPO_DIR

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

SCRIPT = Path(REPO_DIR) / "benchmarks" / "instructions_table.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_table_is_labelled_and_repeats_exactly():
    first = _run("--models", "kws_ref_model", "--targets", "mps2-an386")
    assert first.returncode == 0, first.stderr
    assert "QEMU 7.2 instruction counts (-icount shift=7), not cycles" in first.stdout
    assert "| model | cortex-m4 (mps2-an386) |" in first.stdout
    row = re.search(r"^\| kws_ref_model \| ([0-9,]+) \|$", first.stdout, re.MULTILINE)
    assert row, first.stdout
    assert int(row.group(1).replace(",", "")) > 2_660_000  # at least one instruction per MAC
    footprint = re.search(r"^\| kws_ref_model \| ([0-9.]+) / ([0-9.]+) \|$", first.stdout, re.MULTILINE)
    assert footprint and float(footprint.group(1)) > 24320 / 1024  # the weights alone are 23.75 KiB
    assert _run("--models", "kws_ref_model", "--targets", "mps2-an386").stdout == first.stdout


def test_unknown_model_is_refused_with_the_known_ones():
    result = _run("--models", "no_such_model")
    assert result.returncode == 2
    assert "unknown model(s) no_such_model (known: kws_ref_model" in result.stderr
