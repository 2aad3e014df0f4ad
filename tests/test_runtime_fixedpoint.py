"""hb_fixedpoint.h's fast forms give the same integers as gemmlowp's textbook definitions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hilbench.compile import runtime_dir


# HB_EMULATE_DSP: the narrow requantization's SMMULR, as the DSP build uses it, modelled in C.
@pytest.mark.parametrize("defines", [[], ["-DHB_EMULATE_DSP"]], ids=["portable", "dsp-emulated"])
def test_fixed_point_helpers_match_gemmlowp_definitions(tmp_path, defines):
    cc = shutil.which("cc") or shutil.which("gcc")
    exe = tmp_path / "fixedpoint_check"
    source = Path(__file__).parent / "support" / "fixedpoint_check.c"
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", *defines,
                    f"-I{runtime_dir()}", str(source), "-o", str(exe)], check=True)
    result = subprocess.run([str(exe), "3000000"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "mismatches: 0"
