"""The tflite-micro reference outputs are cached under a hash of the interpreter's version, the
model and the input bytes: a second run reads them, anything else computes them again."""

from __future__ import annotations

import numpy as np
import pytest

from hilbench import zoo
from hilbench.measure import reference


@pytest.fixture
def ad(monkeypatch, tmp_path):
    monkeypatch.setenv("HILBENCH_CACHE", str(tmp_path))
    model = next(m for m in zoo.list_models() if m.name == "ad")
    return model.int8_path, zoo.load_vectors("ad").x_int8[:6], tmp_path / "reference"


def test_a_second_call_reads_what_the_first_computed(ad, monkeypatch):
    model, rows, folder = ad
    first = reference.interpreter_outputs(model, rows)
    [saved] = folder.glob("*.npy")

    def no_interpreter(*args):
        raise AssertionError("the interpreter ran although its outputs were cached")

    monkeypatch.setattr(reference, "_run_interpreter", no_interpreter)
    again = reference.interpreter_outputs(model, rows)
    assert again.dtype == first.dtype and np.array_equal(again, first)
    with pytest.raises(AssertionError, match="the interpreter ran"):
        reference.interpreter_outputs(model, rows[:5])  # other inputs: another key
    assert [p.name for p in folder.glob("*.npy")] == [saved.name]


def test_a_damaged_cache_file_is_computed_again(ad):
    model, rows, folder = ad
    first = reference.interpreter_outputs(model, rows)
    [saved] = folder.glob("*.npy")
    saved.write_bytes(b"not an array")
    assert np.array_equal(reference.interpreter_outputs(model, rows), first)
    assert np.array_equal(np.load(saved), first)
