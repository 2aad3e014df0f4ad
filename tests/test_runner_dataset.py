"""--dataset DIR: MLPerf Tiny test sets in the runner's layouts (older: one input per file;
newer: ad01 recordings cut into overlapping windows by bytes_to_send and stride), scored as
the runner scores them, and refused before any build when malformed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hilbench.compile.compiler import TensorSpec
from hilbench.errors import ConfigError
from hilbench.measure.accuracy import mean_per_group
from hilbench.mlperf_wire import quantize_like_reference_firmware
from hilbench.runner_dataset import load_runner_dataset

REPO = Path(__file__).resolve().parent.parent
INT8_8 = TensorSpec("input", (1, 8), "int8", 0.5, 0, 8)   # 8 values; float windows: 32 bytes


def write_runner_dataset(root: Path, model_id: str, files: dict[str, bytes],
                         lines: list[str]) -> Path:
    folder = root / model_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "y_labels.csv").write_text("\n".join(lines) + "\n")
    return folder


def floats(*values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


# ---------------------------------------------------------------- reading both layouts


def test_the_older_layout_one_input_per_file(tmp_path):
    rows = np.arange(3 * 8, dtype=np.int8).reshape(3, 8)
    write_runner_dataset(tmp_path, "kws01", {f"s{i}.bin": row.tobytes() for i, row in enumerate(rows)},
                         ["s0.bin, 12, 4", "s1.bin, 12, 0", "s2.bin, 12, 11"])
    data = load_runner_dataset(tmp_path, "kws01", INT8_8)
    np.testing.assert_array_equal(data.x, rows)
    assert data.labels.tolist() == [4, 0, 11] and data.task == "classification"
    assert data.file_of_window.tolist() == [0, 1, 2] and data.x_float is None


def test_image_files_hold_uint8_pixels_which_the_reference_firmware_shifts_by_128(tmp_path):
    """ic01 and vww01 files are uint8 pixels: th_load_tensor subtracts 128 for the int8 input."""
    write_runner_dataset(tmp_path, "ic01", {"img.bin": bytes([0, 1, 127, 128, 129, 200, 254, 255])},
                         ["img.bin,10,3"])
    data = load_runner_dataset(tmp_path, "ic01", INT8_8)
    assert data.x.tolist() == [[-128, -127, -1, 0, 1, 72, 126, 127]]


def test_the_reference_firmware_quantizes_float_features_with_c_rounding():
    spec = TensorSpec("input", (1, 8), "int8", 0.5, 3, 8)
    values = np.array([0.25, -0.25, 0.75, 1.0, -1.1, 100.0, -100.0, 0.0], np.float32)
    # value / 0.5 = 0.5, -0.5, 1.5, 2, -2.2, 200, -200, 0: halves away from zero, then + 3, clamped
    assert quantize_like_reference_firmware(values, spec).tolist() == [4, 2, 5, 5, 1, 127, -128, 3]


def test_ad01_float_features_of_the_older_layout_are_one_window(tmp_path):
    write_runner_dataset(tmp_path, "ad01", {
        "normal.bin": floats(0, 0.5, 1, 1.5, 2, 2.5, 3, -1),
        "anomaly.bin": floats(*[10.0] * 8)}, ["normal.bin,2,0", "anomaly.bin,2,1"])
    data = load_runner_dataset(tmp_path, "ad01", INT8_8)
    assert data.task == "anomaly" and data.labels.tolist() == [0, 1]
    assert data.x.tolist() == [[0, 1, 2, 3, 4, 5, 6, -2], [20] * 8]
    assert data.x_float.tolist() == [[0, 0.5, 1, 1.5, 2, 2.5, 3, -1], [10.0] * 8]


def test_ad01_recordings_of_the_newer_layout_are_cut_into_overlapping_windows(tmp_path):
    """bytes_to_send 32 (8 floats), stride 8 (2 floats): a 12-float recording gives the
    windows starting at floats 0, 2 and 4, as the runner's download step cuts them."""
    recording = np.arange(12, dtype=np.float32)
    write_runner_dataset(tmp_path, "ad01", {"rec.bin": recording.tobytes(),
                                            "quiet.bin": floats(*[0.5] * 8)},
                         ["rec.bin,2,1,32,8", "quiet.bin,2,0,32,32"])
    data = load_runner_dataset(tmp_path, "ad01", INT8_8)
    assert data.file_of_window.tolist() == [0, 0, 0, 1]
    assert data.x_float[:3].tolist() == [list(range(0, 8)), list(range(2, 10)), list(range(4, 12))]
    assert data.x[2].tolist() == [8, 10, 12, 14, 16, 18, 20, 22]
    assert data.labels.tolist() == [1, 0] and data.files == ("rec.bin", "quiet.bin")


def test_the_segment_fields_of_other_models_are_ignored_as_the_runner_ignores_them(tmp_path):
    write_runner_dataset(tmp_path, "kws01", {"a.bin": bytes(8)}, ["a.bin,12,3,490,490"])
    data = load_runner_dataset(tmp_path, "kws01", INT8_8)
    assert data.x.shape == (1, 8) and data.file_of_window.tolist() == [0]


def test_a_file_scores_as_the_mean_of_its_windows():
    scores = np.array([1.0, 2.0, 6.0, 4.0])
    assert mean_per_group(scores, np.array([0, 0, 0, 1])).tolist() == [3.0, 4.0]


# ---------------------------------------------------------------- malformed sets


@pytest.mark.parametrize("model_id, line, message", [
    ("kws01", "sample.bin, 12", "line 2: expected 'file,classes,class[,bytes_to_send,stride]'"),
    ("kws01", "sample.bin, x, 1", "line 2: the number of classes must be a whole number, got 'x'"),
    ("kws01", "sample.bin, 12, 1.5", "line 2: the class must be a whole number, got '1.5'"),
    ("kws01", "sample.bin, 12, 12", "line 2: class 12 is not one of the 12 classes"),
    ("kws01", "missing.bin, 12, 1", "line 2: input file 'missing.bin' does not exist"),
    ("kws01", "../escape.bin, 12, 1", "line 2: input file '../escape.bin' does not exist"),
    ("kws01", "short.bin, 12, 1", "line 2: input file 'short.bin' has 3 bytes, the model 'kws01' "
                                  "takes 8 bytes"),
    ("ad01", "short.bin, 2, 1", "line 2: input file 'short.bin' has 3 bytes, the model 'ad01' "
                                "takes 8 bytes or 32 bytes"),
    ("ad01", "long.bin, 2, 1, 32x, 8", "line 2: bytes_to_send must be a whole number, got '32x'"),
    ("ad01", "long.bin, 2, 1, 32, -", "line 2: the stride must be a whole number, got '-'"),
    ("ad01", "long.bin, 2, 1, 32", "line 2: bytes_to_send 32 is given without a stride"),
    ("ad01", "long.bin, 2, 1, 16, 8", "line 2: bytes_to_send is 16, the model's input takes 8 or 32"),
    ("ad01", "long.bin, 2, 1, 32, 6", "line 2: stride 6 does not fit: windows start on a value"),
    ("ad01", "long.bin, 2, 1, 32, 0", "line 2: stride 0 does not fit"),
    ("ad01", "long.bin, 2, 1, 32, 12", "line 2: stride 12 does not fit input file 'long.bin' "
                                       "(48 bytes): windows of 32 bytes every 12 bytes leave its "
                                       "last 4 bytes out"),
    ("ad01", "short.bin, 2, 1, 32, 8", "line 2: input file 'short.bin' has 3 bytes, fewer than one "
                                       "window"),
])
def test_a_malformed_set_names_the_file_and_the_line(tmp_path, model_id, line, message):
    (tmp_path / "escape.bin").write_bytes(bytes(8))
    folder = write_runner_dataset(tmp_path, model_id, {
        "sample.bin": bytes(8), "short.bin": b"abc", "long.bin": floats(*range(12))},
        ["sample.bin, 2, 0", line])
    with pytest.raises(ConfigError) as error:
        load_runner_dataset(tmp_path, model_id, INT8_8)
    assert str(folder / "y_labels.csv") in str(error.value) and message in str(error.value)


def test_a_missing_labels_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"vww01/y_labels.csv does not exist"):
        load_runner_dataset(tmp_path, "vww01", INT8_8)


# ---------------------------------------------------------------- through the front ends


def run_cli(args, cwd, cache):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO),
                                            "HILBENCH_CACHE": str(cache)})


def cache_is_empty(cache: Path) -> bool:
    return not cache.exists() or not any(cache.iterdir())


@pytest.fixture
def ad01_model(tmp_path):
    """The zoo's anomaly detector under the file name of MLPerf Tiny's ad01, so that its
    firmware answers m-model-[ad01] and reads DIR/ad01/."""
    from hilbench.paths import zoo_root

    model = tmp_path / "ad01_int8.tflite"
    model.write_bytes((zoo_root() / "ad" / "int8.tflite").read_bytes())
    return model


def test_measure_scores_segmented_ad01_recordings_per_file_as_the_runner_does(tmp_path, ad01_model):
    """`hilbench measure --dataset` on the host board, with ad01 recordings in the newer
    layout (2560-byte float32 windows every 512 bytes, one 128-value frame): each file's score
    is the mean of its windows' reconstruction errors against the float features, and the AUC
    is over files. Expected: sklearn's AUC of those means, from tflite-micro's outputs."""
    import json

    from sklearn.metrics import roc_auc_score

    from hilbench.compile import compile_model
    from hilbench.compile.compiler import model_input_specs
    from hilbench.measure.reference import interpreter_outputs
    from hilbench.paths import zoo_root

    vectors = np.load(zoo_root() / "ad" / "vectors.npz")
    pick = np.r_[1:5, 195:199]
    labels = vectors["y"][pick]
    assert set(labels.tolist()) == {0, 1}
    files, lines = {}, []
    for index, vector in enumerate(pick):   # 6 frames: vector's 5, then another's first
        recording = np.concatenate([vectors["x"][vector], vectors["x"][vector - 1][:128]])
        files[f"rec{index}.bin"] = recording.astype("<f4").tobytes()
        lines.append(f"rec{index}.bin,2,{labels[index]},2560,512")
    write_runner_dataset(tmp_path / "sets", "ad01", files, lines)

    cache = tmp_path / "cache"
    result = run_cli(["hilbench.cli", "measure", "--board=host", f"--model={ad01_model}",
                      f"--dataset={tmp_path / 'sets'}", "--json=out.json"], tmp_path, cache)
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "out.json").read_text())
    assert "8 of 8 files (16 windows)" in saved["figures"]["vectors"]["origin"]

    [spec_in] = model_input_specs(ad01_model)
    windows = np.stack([np.frombuffer(data, "<f4")[start:start + 640]
                        for data in files.values() for start in (0, 128)]).astype(np.float64)
    quantized = np.clip(np.sign(windows / spec_in.scale) * np.floor(np.abs(windows / spec_in.scale)
                                                                  + 0.5) + spec_in.zero_point,
                        -128, 127).astype(np.int8)
    out = interpreter_outputs(ad01_model, quantized).reshape(len(windows), -1)
    spec_out = compile_model(ad01_model, tmp_path / "c").outputs[0]
    real_out = (out.astype(np.float64) - spec_out.zero_point) * spec_out.scale
    per_window = ((windows - real_out) ** 2).mean(axis=1)
    per_file = per_window.reshape(len(files), 2).mean(axis=1)
    assert saved["row"]["accuracy"] == pytest.approx(roc_auc_score(labels, per_file))
    assert saved["row"]["bitexact_rate"] == 1.0


def test_measure_scores_the_older_layout_top1_as_the_runner_does(tmp_path):
    """The older layout, one 490-byte int8 feature file per keyword: the zoo's kws model under
    the file name of MLPerf Tiny's kws01 reads DIR/kws01/, and top-1 is the share of files
    whose highest output (tflite-micro's, which the host firmware matches bit for bit) is the
    true class."""
    import json

    from hilbench.measure.reference import interpreter_outputs
    from hilbench.paths import zoo_root

    model = tmp_path / "kws_ref_model.tflite"
    model.write_bytes((zoo_root() / "kws" / "int8.tflite").read_bytes())
    vectors = np.load(zoo_root() / "kws" / "vectors.npz")
    x, y = vectors["x_int8"][:12], vectors["y"][:12]
    write_runner_dataset(tmp_path / "sets", "kws01",
                         {f"kw{i}.bin": row.tobytes() for i, row in enumerate(x)},
                         [f"kw{i}.bin,12,{label}" for i, label in enumerate(y)])
    result = run_cli(["hilbench.cli", "measure", "--board=host", f"--model={model}",
                      f"--dataset={tmp_path / 'sets'}", "--json=out.json"], tmp_path,
                     tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "out.json").read_text())
    assert "12 of 12 files of" in saved["figures"]["vectors"]["origin"]
    expected = np.mean(interpreter_outputs(model, x).reshape(12, -1).argmax(axis=1) == y)
    assert saved["row"]["accuracy"] == pytest.approx(expected)
    assert saved["row"]["bitexact_rate"] == 1.0


def test_measure_refuses_a_malformed_set_before_building(tmp_path, ad01_model):
    folder = write_runner_dataset(tmp_path / "sets", "ad01", {"a.bin": bytes(640)},
                                  ["a.bin,2,0", "b.bin,2,1"])
    cache = tmp_path / "cache"
    result = run_cli(["hilbench.cli", "measure", "--board=host", f"--model={ad01_model}",
                      f"--dataset={tmp_path / 'sets'}"], tmp_path, cache)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert f"{folder / 'y_labels.csv'}, line 2: input file 'b.bin' does not exist" in line
    assert cache_is_empty(cache), sorted(str(p) for p in cache.rglob("*"))[:5]


def test_pytest_refuses_a_malformed_set_before_building(tmp_path, ad01_model):
    write_runner_dataset(tmp_path / "sets", "ad01", {"a.bin": bytes(640)}, ["a.bin,2,0,640"])
    cache = tmp_path / "cache"
    result = run_cli(["pytest", "--board=host", f"--model={ad01_model}",
                      f"--dataset={tmp_path / 'sets'}", "-q", "-p", "no:cacheprovider"],
                     tmp_path, cache)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "line 1: bytes_to_send 640 is given without a stride" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert cache_is_empty(cache), sorted(str(p) for p in cache.rglob("*"))[:5]


def test_pytest_without_model_benchmarks_the_reference_models_whose_folders_the_set_holds(
        tmp_path, mlperf_tiny):
    mlperf_tiny("ad01_int8")
    write_runner_dataset(tmp_path / "sets", "ad01", {"a.bin": floats(*range(640)),
                                                     "b.bin": floats(*range(1, 641))},
                         ["a.bin,2,0", "b.bin,2,1"])
    (tmp_path / "sets" / "notes").mkdir()   # a folder that names no model id is not a model
    result = run_cli(["pytest", "--board=host", f"--dataset={tmp_path / 'sets'}", "--collect-only",
                      "-q", "-p", "no:cacheprovider"], tmp_path, tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert collected and all("ad01_int8" in line for line in collected), result.stdout


def test_pytest_without_model_refuses_a_set_with_no_model_id_folder(tmp_path):
    write_runner_dataset(tmp_path / "sets", "kws", {"a.bin": bytes(490)}, ["a.bin,12,0"])
    result = run_cli(["pytest", "--board=host", f"--dataset={tmp_path / 'sets'}", "-q",
                      "-p", "no:cacheprovider"], tmp_path, tmp_path / "cache")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "has no folder of an MLPerf Tiny model id (kws01, vww01, ic01, ad01)" in result.stderr
    assert "--model" in result.stderr and "Traceback" not in result.stderr + result.stdout
