"""Plain MLPerf Tiny DUTs: firmware without hilbench's extensions, as third parties build it,
and the names MLPerf Tiny's runner expects from ours."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from hilbench.compile import compile_model
from hilbench.mlperf_tiny import MODEL_IDS, MODEL_OF_ID, device_model_name
from hilbench.run.printed_outputs import recover_printed_outputs
from hilbench.twin_serve import PLAIN_MLPERF_DEFINES


def test_reference_models_go_by_their_mlperf_tiny_ids():
    assert [device_model_name(stem) for stem in MODEL_IDS] == ["kws01", "vww01", "ic01", "ad01"]
    assert all(MODEL_OF_ID[MODEL_IDS[stem]] == stem for stem in MODEL_IDS)
    assert device_model_name("my_model") == "my_model"


@pytest.mark.parametrize("stem", ["ad01_int8", "kws_ref_model"])
def test_firmware_for_a_reference_model_answers_with_its_id(tmp_path, mlperf_tiny, stem):
    compiled = compile_model(mlperf_tiny(stem), tmp_path / "c")
    assert compiled.model_name == MODEL_IDS[stem]
    assert f'hb_model_name[] = "{MODEL_IDS[stem]}";' in (tmp_path / "c" / "hb_model.c").read_text()


# ---------------------------------------------------------------- printed outputs


def test_truncated_printing_is_recovered_exactly():
    # kws-like softmax output: scale 1/256, zero point -128. 1/256 = 0.0039 prints as 0.003
    # with a truncating printf, as 0.004 with a rounding one; both give back q = -127.
    scale, zero_point = 1 / 256, -128
    q = np.array([[-128, -127, -100, 0, 127]], dtype=np.int8)
    real = (q.astype(np.float32) - zero_point) * np.float32(scale)
    truncated = np.trunc(real.astype(np.float64) * 1000) / 1000
    assert truncated[0, 1] == 0.003
    recovery = recover_printed_outputs(truncated, "int8", scale, zero_point)
    assert recovery.exact and recovery.convention == "truncate"
    np.testing.assert_array_equal(recovery.values, q)
    rounded = np.array([[float(f"{v:.3f}") for v in real[0]]])
    assert recover_printed_outputs(rounded, "int8", scale, zero_point).values.tolist() == q.tolist()


def test_printing_that_hides_the_values_gives_no_tensor_and_says_why():
    # scale 0.0004: three neighbouring int8 values print alike, so no exact tensor exists.
    recovery = recover_printed_outputs(np.array([[0.001, 0.0]]), "int8", 0.0004, 0)
    assert not recovery.exact and recovery.values is None
    assert "matches" in recovery.reason and "int8 values" in recovery.reason
    # A number no int8 value prints as (a damaged or foreign reply)
    assert "no int8 value" in recover_printed_outputs(np.array([[0.0017]]), "int8", 0.1, 0).reason


def test_genuine_mlperf_dut_outputs_are_recovered_bit_exactly(mlperf_tiny):
    """The recorded exchange with genuine MLPerf Tiny firmware (TFLM + CMSIS-NN): its printed
    results after 'infer 1 0' recover to tflite-micro's int8 outputs for the recorded input."""
    from hilbench.measure.reference import interpreter_outputs
    from tests.support.mlperf_tiny import mlperf_transcript
    from test_protocol_replay import recorded_input, recorded_results

    transcript = mlperf_transcript("mlperf_tiny_kws01.transcript")
    model = mlperf_tiny("kws_ref_model")
    spec = compile_model(model, Path(tempfile.mkdtemp()) / "c").outputs[0]
    x = np.frombuffer(recorded_input(transcript), dtype=np.int8).reshape(1, -1)
    recovery = recover_printed_outputs(np.array([recorded_results(transcript, "infer 1 0")]),
                                       spec.dtype, spec.scale, spec.zero_point)
    assert recovery.exact, recovery.reason
    np.testing.assert_array_equal(recovery.values.reshape(-1),
                                  interpreter_outputs(model, x).reshape(-1))


# ---------------------------------------------------------------- a plain DUT end to end


def test_plain_firmware_clobbers_truncates_and_has_no_extensions(tmp_path_factory):
    """The plain MLPerf mode of hilbench's firmware (the host target, a test stub model that
    reuses its input's bytes): what a third-party DUT does, and what hilbench makes of it."""
    from dut_fixtures.helpers import build_stub
    from hilbench.deploy.host import start_host_firmware
    from hilbench.session import DutSession

    firmware = build_stub(tmp_path_factory, extra_defines=PLAIN_MLPERF_DEFINES)
    with start_host_firmware(firmware) as endpoint, DutSession.from_endpoint(endpoint) as session:
        session.sync()
        caps = session.profile()
        assert caps.plain_mlperf and caps.input_bytes is None
        assert session.command("hb raw") == ["e-[Unknown command: hb]", "m-ready"]
        session.load_input(bytes(range(40)))
        session.infer(1, 0)
        clean = session.results()
        assert clean[-1] == -2.187      # -2.1875 truncated (the rounding build prints -2.188)
        session.infer(1, 1)
        assert session.results() != clean  # the warm-up clobbered the input
        session.infer(1, 0)
        assert session.results() == clean  # each 'infer' copies the loaded input once


# ---------------------------------------------------------------- runner datasets


def write_runner_dataset(root: Path, model_id: str, rows: np.ndarray, labels, classes: int) -> Path:
    folder = root / model_id
    folder.mkdir(parents=True)
    lines = []
    for index, (row, label) in enumerate(zip(rows, labels)):
        name = f"sample_{index:03d}.bin"
        (folder / name).write_bytes(np.ascontiguousarray(row).tobytes())
        lines.append(f"{name}, {classes}, {label}")
    (folder / "y_labels.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_runner_dataset_is_read_as_the_runner_lays_it_out(tmp_path):
    from hilbench.runner_dataset import load_runner_dataset

    rows = np.arange(3 * 8, dtype=np.int8).reshape(3, 8)
    write_runner_dataset(tmp_path, "kws01", rows, [4, 0, 11], classes=12)
    data = load_runner_dataset(tmp_path, "kws01", 8, "int8")
    np.testing.assert_array_equal(data.x, rows)
    assert data.labels.tolist() == [4, 0, 11] and data.task == "classification"


@pytest.mark.parametrize("line, message", [
    ("sample_000.bin, 12", "line 2: expected 'file,classes,class'"),
    ("sample_000.bin, 12, x", "line 2: the number of classes and the class must be whole numbers"),
    ("sample_000.bin, 12, 12", "line 2: class 12 is not one of the 12 classes"),
    ("missing.bin, 12, 1", "line 2: input file 'missing.bin' does not exist"),
    ("short.bin, 12, 1", "line 2: input file 'short.bin' has 3 bytes, the model's input takes 8"),
    ("../escape.bin, 12, 1", "line 2: input file '../escape.bin' does not exist"),
])
def test_a_malformed_runner_dataset_names_the_file_and_the_line(tmp_path, line, message):
    from hilbench.errors import ConfigError
    from hilbench.runner_dataset import load_runner_dataset

    folder = write_runner_dataset(tmp_path, "kws01", np.zeros((1, 8), np.int8), [1], classes=12)
    (folder / "short.bin").write_bytes(b"abc")
    (tmp_path / "escape.bin").write_bytes(bytes(8))
    labels = folder / "y_labels.csv"
    labels.write_text(labels.read_text() + line + "\n")
    with pytest.raises(ConfigError) as error:
        load_runner_dataset(tmp_path, "kws01", 8, "int8")
    assert str(labels) in str(error.value) and message in str(error.value)


def test_a_missing_model_folder_is_named(tmp_path):
    from hilbench.errors import ConfigError
    from hilbench.runner_dataset import load_runner_dataset

    with pytest.raises(ConfigError, match=r"vww01/y_labels.csv does not exist"):
        load_runner_dataset(tmp_path, "vww01", 8, "int8")


def test_measure_scores_a_runner_dataset_as_the_runner_does(tmp_path):
    """`hilbench measure --dataset DIR` on the host board: the zoo's anomaly detector, under
    the file name of MLPerf Tiny's ad01 (so its firmware answers m-model-[ad01]), scored with
    ROC AUC on a small set in the runner's layout (sklearn's AUC of the reconstruction error of
    tflite-micro's outputs is the expected figure)."""
    import json
    import os
    import subprocess
    import sys

    from sklearn.metrics import roc_auc_score

    from hilbench.measure.reference import interpreter_outputs
    from hilbench.paths import zoo_root

    model = tmp_path / "ad01_int8.tflite"
    model.write_bytes((zoo_root() / "ad" / "int8.tflite").read_bytes())
    vectors = np.load(zoo_root() / "ad" / "vectors.npz")
    pick = np.r_[0:4, 196:200]   # normal and anomalous samples
    x, y = vectors["x_int8"][pick], vectors["y"][pick]
    assert set(y.tolist()) == {0, 1}
    write_runner_dataset(tmp_path / "sets", "ad01", x, y, classes=2)

    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "hilbench.cli", "measure", "--board=host", f"--model={model}",
         f"--dataset={tmp_path / 'sets'}", "--json=out.json"], cwd=tmp_path, capture_output=True,
        text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(repo)})
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "out.json").read_text())
    assert "MLPerf Tiny runner layout" in saved["figures"]["vectors"]["origin"]
    compiled = compile_model(model, tmp_path / "c")
    spec_in, spec_out = compiled.inputs[0], compiled.outputs[0]
    real_in = (x.astype(np.float64) - spec_in.zero_point) * spec_in.scale
    out = interpreter_outputs(model, x).reshape(len(x), -1)
    real_out = (out.astype(np.float64) - spec_out.zero_point) * spec_out.scale
    expected = roc_auc_score(y, ((real_in - real_out) ** 2).mean(axis=1))
    assert saved["row"]["accuracy"] == pytest.approx(expected)
    assert saved["row"]["bitexact_rate"] == 1.0

    bad = tmp_path / "sets" / "ad01" / "y_labels.csv"
    bad.write_text(bad.read_text() + "sample_000.bin, 2\n")
    result = subprocess.run(
        [sys.executable, "-m", "hilbench.cli", "measure", "--board=host", f"--model={model}",
         f"--dataset={tmp_path / 'sets'}"], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": str(repo)})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert f"{bad}, line 9: expected 'file,classes,class'" in line

