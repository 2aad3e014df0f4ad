"""The MLPerf Tiny files that tests use when they are there: the reference models and the
recorded transcript of a genuine MLPerf Tiny DUT.

Neither lives in the repository. The models come from hilbench's own lookup
(HILBENCH_MLPERF_DIR, else the cache that 'hilbench models fetch mlperf-tiny' fills); the
transcripts from the folder HILBENCH_MLPERF_TRANSCRIPTS names. When a file is absent the
test that needs it is skipped, and the reason says how to get it; with
HILBENCH_REQUIRE_MLPERF=1 (set by .ci/run) it fails instead, so CI never skips them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hilbench import mlperf_tiny
from hilbench.errors import ModelError

REQUIRE_VARIABLE = "HILBENCH_REQUIRE_MLPERF"
TRANSCRIPTS_VARIABLE = "HILBENCH_MLPERF_TRANSCRIPTS"


def _unavailable(reason: str):
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{reason} ({REQUIRE_VARIABLE}=1: required here)", pytrace=False)
    pytest.skip(reason)


def mlperf_tiny_model(name: str) -> Path:
    """The verified path of an MLPerf Tiny model (``ad01_int8``); skips (or fails) without it."""
    try:
        return mlperf_tiny.model_path(name)
    except ModelError as error:
        _unavailable(str(error))


def mlperf_transcript(file_name: str) -> Path:
    """A recorded MLPerf Tiny DUT transcript by file name; skips (or fails) without it."""
    folder = os.environ.get(TRANSCRIPTS_VARIABLE)
    if not folder:
        _unavailable(f"the MLPerf Tiny DUT transcript {file_name} is not available: set "
                     f"{TRANSCRIPTS_VARIABLE} to the folder that holds it")
    path = Path(folder) / file_name
    if not path.is_file():
        _unavailable(f"{path} does not exist ({TRANSCRIPTS_VARIABLE}={folder})")
    return path


def reference_model(name: str) -> Path:
    """A model by name for tests parametrized over both sets: an MLPerf Tiny model
    (``ad01_int8``, skipped or failed as above when absent) or a zoo model (``ad``), which is
    always there."""
    if mlperf_tiny.is_reference_name(name):
        return mlperf_tiny_model(name)
    from hilbench.bench import find_model

    return find_model(name)
