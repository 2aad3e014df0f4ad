"""Fixtures for the project's tests (the repository root's conftest.py decides what runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hilbench.paths import zoo_root
from tests.support.mlperf_tiny import mlperf_tiny_model


@pytest.fixture
def mlperf_tiny():
    """``mlperf_tiny("ad01_int8")`` -> the model's verified path. The test is skipped when the
    MLPerf Tiny models are absent (the reason names the fetch command), and fails instead
    with HILBENCH_REQUIRE_MLPERF=1."""
    return mlperf_tiny_model


@pytest.fixture(scope="session")
def unlabelled_model(tmp_path_factory) -> Path:
    """The zoo's anomaly detector (FC only, the quickest to build) outside the zoo: a plain
    .tflite without labelled vectors, as a user's or an MLPerf Tiny model is, so the benchmark
    feeds it seeded random inputs (bit-exactness and timing, no accuracy)."""
    path = tmp_path_factory.mktemp("models") / "ad_plain.tflite"
    path.write_bytes((zoo_root() / "ad" / "int8.tflite").read_bytes())
    return path
