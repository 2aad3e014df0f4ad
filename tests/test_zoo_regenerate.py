"""The zoo can be rebuilt: a quick regeneration (tiny data, one epoch) runs end to end into a
temporary folder and writes models, vectors and cards of the declared shapes and dtypes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from tflite_micro.python.tflite_micro import runtime

from hilbench.errors import ModelError
from hilbench.paths import REPO_DIR
from hilbench.zoo import list_models, load_vectors

MODELS = ("ad", "gesture", "ic", "kws", "vww")


@pytest.fixture(scope="module")
def quick_zoo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quick_zoo")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "models_zoo.regenerate", "--quick", "--out", str(out)],
                            cwd=REPO_DIR, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"quick regeneration took {time.monotonic() - started:.0f} s")
    return out


def test_quick_regeneration_writes_every_model(quick_zoo):
    assert sorted(m.name for m in list_models(quick_zoo)) == list(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_quick_outputs_have_declared_shapes_and_dtypes(quick_zoo, name):
    model = next(m for m in list_models(quick_zoo) if m.name == name)
    assert model.card["quick_build"] is True
    vectors = load_vectors(name, quick_zoo)  # checks x float32 / x_int8 int8 against the card
    assert vectors.x.shape[1:] == model.input_shape[1:] and len(vectors) > 0
    committed = next(m for m in list_models() if m.name == name)
    assert model.input_shape == committed.input_shape and model.labels == committed.labels
    for path, dtype in ((model.float_path, np.float32), (model.int8_path, np.int8)):
        interpreter = runtime.Interpreter.from_file(str(path))
        assert interpreter.get_input_details(0)["dtype"] == dtype
        assert tuple(interpreter.get_input_details(0)["shape"]) == model.input_shape
        assert interpreter.get_output_details(0)["dtype"] == dtype
        interpreter.set_input(vectors.x[:1] if dtype == np.float32 else vectors.x_int8[:1], 0)
        interpreter.invoke()
        output = interpreter.get_output(0)
        expected = model.input_shape if model.metric == "auc" else (1, len(model.labels))
        assert output.shape == expected


def test_regenerate_rejects_an_unknown_model():
    result = subprocess.run([sys.executable, "-m", "models_zoo.regenerate", "--only", "kwz"],
                            cwd=REPO_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "kwz" in result.stderr


def test_load_vectors_names_a_broken_file(tmp_path):
    committed = next(m for m in list_models() if m.name == "gesture")
    folder = tmp_path / "gesture"
    folder.mkdir()
    (folder / "card.yaml").write_text(yaml.safe_dump(committed.card))
    vectors = load_vectors("gesture")
    np.savez(folder / "vectors.npz", x=vectors.x.astype(np.float64), x_int8=vectors.x_int8, y=vectors.y)
    with pytest.raises(ModelError, match=r"vectors\.npz: x is float64"):
        load_vectors("gesture", tmp_path)
    np.savez(folder / "vectors.npz", x=vectors.x)
    with pytest.raises(ModelError, match="lacks array"):
        load_vectors("gesture", tmp_path)


def test_card_missing_a_field_is_named(tmp_path):
    committed = next(m for m in list_models() if m.name == "ad")
    card = dict(committed.card)
    del card["metric"]
    (tmp_path / "ad").mkdir()
    (tmp_path / "ad" / "card.yaml").write_text(yaml.safe_dump(card))
    with pytest.raises(ModelError, match=r"card\.yaml: missing 'metric'"):
        list_models(tmp_path)


def test_rescore_reproduces_the_committed_card_without_training(tmp_path):
    """`--rescore` recomputes a card from the committed files and the recipe's seed: on an
    unchanged model it writes back the committed card, byte for byte, and touches nothing else."""
    import shutil

    shutil.copytree(REPO_DIR / "models_zoo" / "ad", tmp_path / "ad",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "ad" / "card.yaml").write_text("stale\n")
    before = {p.name: p.read_bytes() for p in (tmp_path / "ad").iterdir() if p.name != "card.yaml"}
    result = subprocess.run([sys.executable, "-m", "models_zoo.regenerate", "--rescore", "--only", "ad",
                             "--out", str(tmp_path)], cwd=REPO_DIR, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "ad" / "card.yaml").read_text() == (REPO_DIR / "models_zoo" / "ad" / "card.yaml").read_text()
    assert {p.name: p.read_bytes() for p in (tmp_path / "ad").iterdir() if p.name != "card.yaml"} == before
