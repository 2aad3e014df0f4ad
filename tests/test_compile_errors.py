"""The compiler refuses bad models before writing anything, with messages that say why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hilbench.compile import SUPPORTED_OPS, compile_model
from hilbench.errors import ModelError
from hilbench.paths import zoo_root

KWS = zoo_root() / "kws" / "int8.tflite"


def _assert_nothing_written(out_dir: Path) -> None:
    assert not out_dir.exists()
    leftovers = [p.name for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}")]
    assert leftovers == [], f"temporary folders left behind: {leftovers}"


def test_random_bytes_are_not_a_tflite_model(tmp_path):
    model = tmp_path / "noise.tflite"
    model.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    out_dir = tmp_path / "out"
    with pytest.raises(ModelError, match="not a valid .tflite model"):
        compile_model(model, out_dir)
    _assert_nothing_written(out_dir)


@pytest.mark.parametrize("keep_bytes", [6, 200, 5000, 30000, -100])
def test_truncated_model_is_refused(tmp_path, keep_bytes):
    model = tmp_path / "truncated.tflite"
    model.write_bytes(KWS.read_bytes()[:keep_bytes])
    out_dir = tmp_path / "out"
    with pytest.raises(ModelError, match="not a valid .tflite model|truncated|corrupt"):
        compile_model(model, out_dir)
    _assert_nothing_written(out_dir)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ModelError, match="nope.tflite"):
        compile_model(tmp_path / "nope.tflite", tmp_path / "out")


def test_float_model_is_refused_naming_op_tensor_and_dtype(tmp_path):
    out_dir = tmp_path / "out"
    with pytest.raises(ModelError) as info:
        compile_model(zoo_root() / "kws" / "float.tflite", out_dir)
    message = str(info.value)
    assert "CONV_2D" in message and "float32" in message and "serving_default_keras_tensor_34:0" in message
    _assert_nothing_written(out_dir)


def test_unsupported_operator_is_refused_naming_op_tensor_dtype(tmp_path):
    from tests.support.tf_models import convert

    model = convert("tanh", {"seed": 0}, lambda tf, rng, x: tf.math.tanh(x), [(1, 8)])
    out_dir = tmp_path / "out"
    with pytest.raises(ModelError) as info:
        compile_model(model, out_dir)
    message = str(info.value)
    assert "TANH" in message
    assert "int8" in message
    assert "'" in message  # the tensor is named
    for op in ("CONV_2D", "FULLY_CONNECTED", "SOFTMAX"):
        assert op in message  # the supported operators are listed
    _assert_nothing_written(out_dir)


def test_failed_compile_leaves_a_previous_output_untouched(tmp_path):
    out_dir = tmp_path / "out"
    compile_model(KWS, out_dir)
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError):
        compile_model(bad, out_dir)
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before


def test_recompiling_replaces_the_folder_and_leaves_no_temporaries(tmp_path):
    out_dir = tmp_path / "out"
    compile_model(zoo_root() / "ad" / "int8.tflite", out_dir)
    (out_dir / "stale.txt").write_text("from an earlier run")
    compiled = compile_model(KWS, out_dir)
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "hb_model.c", "hb_model_config.h", "hb_model_data.c", "hb_model_data.h"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert compiled.model_name == "kws"   # the zoo's name for models_zoo/kws/int8.tflite


def test_unknown_kernel_set_is_refused(tmp_path):
    with pytest.raises(ValueError, match="portable"):
        compile_model(KWS, tmp_path / "out", kernels="fast")


def test_supported_ops_cover_the_brief():
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
               "MAX_POOL_2D", "ADD", "RESHAPE", "SOFTMAX", "QUANTIZE", "DEQUANTIZE", "LOGISTIC",
               "MEAN", "PAD", "CONCATENATION"):
        assert op in SUPPORTED_OPS


def test_a_compile_that_loses_a_race_for_the_same_folder_is_no_error(tmp_path, monkeypatch):
    """Two processes compiling the same model on a cold cache: the other one retires the old
    folder and puts its copy in place between this one's steps."""
    import os
    import shutil

    from hilbench.compile import compiler

    out_dir = tmp_path / "out"
    compile_model(KWS, out_dir, kernels="portable")
    (out_dir / "hb_model.c").write_text("an older copy")   # so that this compile swaps it
    real_replace = os.replace

    def other_process_first(src, dst):
        if Path(src) == out_dir:                # the other process retired and replaced it
            shutil.rmtree(out_dir)
            raise FileNotFoundError(src)
        if Path(dst) == out_dir:                # ... and put its own copy in place
            out_dir.mkdir(exist_ok=True)
            (out_dir / "hb_model.c").write_text("theirs")
        return real_replace(src, dst)

    monkeypatch.setattr(compiler.os, "replace", other_process_first)
    compile_model(KWS, out_dir, kernels="portable")
    assert (out_dir / "hb_model.c").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]   # no temporaries left
