"""hilbench as a user installs it: the wheel built from this checkout, installed into a fresh
virtual environment outside the checkout, run from an empty folder.

The wheel must carry the firmware sources, the board catalog, the zoo (models, cards, test
vectors), the MLPerf Tiny file table and the reference suite: nothing may come from the
checkout (PYTHONPATH is cleared, the build cache is empty). Dependencies come from pip's cache
or the package index, as for a user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hilbench.paths import REPO_DIR

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

# Not part of a source tree to build from: environments, outputs, caches (at the top), and
# byte code anywhere.
NOT_SOURCES_AT_TOP = {".git", ".venv", "venv", "build", "dist", "hilbench.egg-info",
                      ".pytest_cache", "results", ".benchmarks"}


def not_sources(folder: str, names: list[str]) -> set[str]:
    at_top = Path(folder) == REPO_DIR
    return {name for name in names if name == "__pycache__" or (at_top and name in NOT_SOURCES_AT_TOP)}


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, an empty working folder, the environment to run in)."""
    root = tmp_path_factory.mktemp("wheel")
    # Build from a copy, so that the checkout gets no build/ or .egg-info folders.
    source = root / "source"
    shutil.copytree(REPO_DIR, source, ignore=not_sources)
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "HILBENCH_FIRMWARE", "HILBENCH_ZOO", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # Built as pip builds it for a user and as scripts/setup.sh does: in an isolated build
    # environment with the setuptools that [build-system] asks for (from pip's cache or the
    # index), not whatever this Python has. -v shows the build backend's own warnings.
    build = run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps",
                 "-w", str(root / "dist"), str(source)], cwd=root, env=env)
    (root / "build.log").write_text(build.stdout + build.stderr)
    [wheel] = (root / "dist").glob("hilbench-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=root, env=env)
    work = root / "empty"
    work.mkdir()
    env["HILBENCH_CACHE"] = str(root / "cache")          # every firmware built from the wheel
    env["HILBENCH_LIST_PORTS"] = str(Path(__file__).parent / "fixtures" / "list_ports" / "nothing.json")
    return wheel, venv / "bin", work, env


def test_the_wheel_carries_firmware_zoo_catalog_table_and_suite(installed):
    wheel = installed[0]
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in REPO_DIR.joinpath("firmware_targets").rglob("*"):
        if path.is_file():
            assert f"hilbench/{path.relative_to(REPO_DIR)}" in names
    for model in ("ad", "gesture", "ic", "kws", "vww"):
        for file in ("card.yaml", "int8.tflite", "float.tflite", "vectors.npz"):
            assert f"hilbench/models_zoo/{model}/{file}" in names
    assert {"hilbench/boards/catalog.yaml", "hilbench/mlperf_tiny_sources.csv",
            "hilbench/suite/test_reference_benchmark.py",
            "hilbench/calibration/data/mlperf_tiny_published.csv"} <= names
    assert not any(name.endswith(".tflite") and "mlperf" in name for name in names)
    # The zoo's regeneration code stays in the repository: the installed package never runs it.
    assert not [name for name in names if name.startswith("hilbench/models_zoo/") and name.endswith(".py")]
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(wheel).read(
        "hilbench-0.1.0.dist-info/METADATA").decode()


def test_the_wheel_builds_without_setuptools_warnings(installed):
    """No deprecated configuration (the license table) and no folder that setuptools would
    have to guess about (a data folder it can import but was not told of)."""
    log = (installed[0].parent.parent / "build.log").read_text()
    backend = re.search(r"Successfully installed setuptools-(\d+)", log)
    assert backend and int(backend.group(1)) >= 77, f"not built with [build-system]'s setuptools:\n{log[:3000]}"
    for warning in ("Deprecat", "is absent from the `packages` configuration", "Package would be ignored"):
        assert warning not in log, f"the wheel build warns: {warning!r}\n{log[-4000:]}"


def test_installed_commands_run_from_an_empty_folder(installed):
    _, bin_dir, work, env = installed
    where = run([str(bin_dir / "python"), "-c", "import hilbench; print(hilbench.__file__)"], work, env)
    assert "/venv/lib/" in where.stdout and str(REPO_DIR) not in where.stdout

    models = run([str(bin_dir / "hilbench"), "models"], work, env).stdout
    assert re.search(r"^ad +anomaly detection", models, re.M)
    assert re.search(r"^ad01_int8 +(present|missing|wrong hash) +mlcommons/tiny@", models, re.M)

    np.save(work / "x.npy", np.zeros((2, 640), np.int8))
    infer = run([str(bin_dir / "hilbench"), "infer", "--board", "host", "--model", "ad",
                 "--input", "x.npy", "--output", "y.npy"], work, env).stdout
    assert re.fullmatch(r"cycles_per_inference: \d+ \(host-clock\)", infer.strip().splitlines()[-1])
    assert np.load(work / "y.npy").shape == (2, 640)


@pytest.mark.parametrize("board, labels", [
    ("host", r"host +host +ad +hilbench-portable .*ms \(host-clock\)"),
    ("nano33", r"nano33 +emulated +ad +hilbench-dsp .*ms \(icount\).*uJ \(model\)"),
])
def test_the_main_job_runs_from_an_empty_folder(installed, board, labels):
    """`pytest --board=B` in a folder with no tests runs the reference suite from the wheel."""
    _, bin_dir, work, env = installed
    result = run([str(bin_dir / "pytest"), f"--board={board}", "--model=ad", "--vectors=3",
                  "-p", "no:cacheprovider"], work, env)
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout
    assert "hilbench results" in result.stdout and re.search(labels, result.stdout), result.stdout
