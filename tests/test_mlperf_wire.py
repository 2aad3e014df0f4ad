"""MLPerf Tiny's per-model-id wire formats (hilbench.mlperf_wire): what the reference firmware
of vww01 and ic01 (uint8 pixels) and ad01 (float32 features, one printed anomaly score) takes
on 'db' and prints on 'results', driven end to end against hilbench's plain MLPerf build, the
project's stand-in for that firmware."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hilbench.compile.compiler import TensorSpec, model_input_specs, model_output_specs
from hilbench.mlperf_wire import (FLOAT32_FEATURES, INPUT_TENSOR, UINT8_PIXELS, WIRE_FORMATS,
                                  anomaly_score_like_reference_firmware,
                                  dequantize_like_reference_firmware,
                                  quantize_like_reference_firmware, wire_format)
from hilbench.session.replies import parse_floats

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


def test_the_table_says_what_each_reference_firmware_takes_and_prints():
    assert {model_id: (wire.db_input, wire.results) for model_id, wire in WIRE_FORMATS.items()} == {
        "kws01": (INPUT_TENSOR, "output tensor"), "vww01": (UINT8_PIXELS, "output tensor"),
        "ic01": (UINT8_PIXELS, "output tensor"), "ad01": (FLOAT32_FEATURES, "anomaly score")}
    assert wire_format("kws") == wire_format(None) == WIRE_FORMATS["kws01"]  # any other model
    assert wire_format("ad01").db_bytes(640) == 2560 and wire_format("vww01").db_bytes(27648) == 27648


def test_pixels_are_the_int8_tensor_plus_128():
    spec = TensorSpec("x", (1, 256), "int8", 0.5, -128, 256)
    pixels = wire_format("ic01").encode(ALL_INT8, spec)
    assert list(pixels) == list(range(256))
    tensor, real = wire_format("ic01").decode(pixels, spec)
    assert real is None and np.array_equal(tensor, ALL_INT8)


def test_dequantized_ad01_features_quantize_back_to_the_same_int8_tensor(mlperf_tiny):
    """From the int8 tensor alone, the host sends (q - zero_point) * scale in float32: the
    reference firmware's round(x / scale) + zero_point gives every int8 value back exactly."""
    [spec] = model_input_specs(mlperf_tiny("ad01_int8"))
    features = dequantize_like_reference_firmware(ALL_INT8, spec.scale, spec.zero_point)
    assert np.array_equal(quantize_like_reference_firmware(features, spec), ALL_INT8)
    sent = wire_format("ad01").encode(ALL_INT8, spec)
    assert np.array_equal(np.frombuffer(sent, "<f4"), features)


@settings(max_examples=300, deadline=None)
@given(scale=st.floats(1e-6, 1e3, allow_nan=False), zero_point=st.integers(-128, 127))
def test_dequantized_features_quantize_back_for_any_int8_quantization(scale, zero_point):
    spec = TensorSpec("x", (1, 256), "int8", scale, zero_point, 256)
    features = dequantize_like_reference_firmware(ALL_INT8, spec.scale, spec.zero_point)
    assert np.array_equal(quantize_like_reference_firmware(features, spec), ALL_INT8)


def test_real_features_are_sent_when_they_give_the_tensor_else_its_dequantization():
    spec = TensorSpec("x", (1, 3), "int8", 0.1, 0, 3)
    real = np.array([0.26, -0.04, 1.0], np.float32)
    tensor = quantize_like_reference_firmware(real, spec)
    assert np.array_equal(np.frombuffer(wire_format("ad01").encode(tensor, spec, real), "<f4"), real)
    other = tensor + np.int8(1)  # the floats are not where this tensor came from
    assert np.array_equal(np.frombuffer(wire_format("ad01").encode(other, spec, real), "<f4"),
                          dequantize_like_reference_firmware(other, spec.scale, spec.zero_point))


def test_c_round_halves_away_from_zero_and_is_exact_just_below_a_half():
    spec = TensorSpec("x", (1, 4), "int8", 1.0, 0, 4)
    values = np.array([0.5, -0.5, np.nextafter(np.float32(0.5), np.float32(0)), 2.5], np.float32)
    assert quantize_like_reference_firmware(values, spec).tolist() == [1, -1, 0, 3]


def test_the_anomaly_score_is_the_float32_mean_squared_error():
    out_spec = TensorSpec("y", (1, 4), "int8", 0.5, 0, 4)
    outputs = np.array([[2, -2, 0, 4]], np.int8)
    features = np.array([[1.0, -1.0, 1.0, 0.0]], np.float32)
    assert anomaly_score_like_reference_firmware(outputs, out_spec, features).tolist() == [(0 + 0 + 1 + 4) / 4]


def test_a_trailing_comma_after_the_last_result_is_read():
    # vww01's th_results prints ',' after each of its 2 values (it counts to 3).
    assert parse_floats("0.976,0.023,") == (0.976, 0.023)
    assert parse_floats("0.976,0.023") == (0.976, 0.023)


# ---------------------------------------------------------------- plain DUTs, end to end


@pytest.fixture(scope="module")
def plain_host_duts(tmp_path_factory):
    """The image models' plain MLPerf builds on the host target (vww01 and ic01 are too big to
    run quickly on a twin), each on its own pty, and a lab file with a pre-flashed board each."""
    from contextlib import ExitStack

    from hilbench.bench import compiled_model_dir
    from hilbench.build import build_firmware
    from hilbench.compile import compile_model
    from hilbench.deploy.host import start_host_firmware
    from hilbench.twin_serve import PLAIN_MLPERF_DEFINES
    from tests.support.mlperf_tiny import mlperf_tiny_model

    folder = tmp_path_factory.mktemp("plain_image")
    lines = ["boards:"]
    with ExitStack() as stack:
        for board, stem in (("vww", "vww_96_int8"), ("ic", "pretrainedResnet_quant")):
            model = mlperf_tiny_model(stem)
            compiled = compile_model(model, compiled_model_dir(model, "auto"))
            endpoint = stack.enter_context(start_host_firmware(
                build_firmware("host", compiled, extra_defines=PLAIN_MLPERF_DEFINES)))
            lines += [f"  {board}:", "    extends: nano33", f"    connection: {{port: '{endpoint.url}'}}",
                      "    flasher: {kind: none}"]
        (folder / "lab.yaml").write_text("\n".join(lines) + "\n")
        yield folder / "lab.yaml"


@pytest.mark.parametrize("board, stem", [("vww", "vww_96_int8"), ("ic", "pretrainedResnet_quant")])
def test_infer_on_a_plain_image_dut_sends_pixels_and_gets_tflite_micros_outputs(
        tmp_path, plain_host_duts, mlperf_tiny, board, stem):
    from hilbench.measure.reference import interpreter_outputs
    from test_plain_mlperf_twin import run

    model = mlperf_tiny(stem)
    [spec] = model_input_specs(model)
    rows = np.random.default_rng(12).integers(-128, 128, size=(2, *spec.shape[1:]), dtype=np.int8)
    np.save(tmp_path / "x.npy", rows)
    result = run(["-m", "hilbench.cli", "infer", f"--board={board}", f"--lab={plain_host_duts}",
                  f"--model={stem}", "--input=x.npy", "--output=y.npy"], tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"),
                                  interpreter_outputs(model, rows).reshape(2, -1))


def test_the_int8_tensor_on_db_would_give_other_outputs(plain_host_duts, mlperf_tiny):
    """What the check above catches: the int8 tensor sent as it is reaches the model shifted
    by 128, and the printed results are not tflite-micro's for the input meant."""
    from hilbench.boards import resolve_boards
    from hilbench.measure.reference import interpreter_outputs
    from hilbench.session import DutSession

    model = mlperf_tiny("pretrainedResnet_quant")
    [spec] = model_input_specs(model)
    [board] = resolve_boards(["ic"], lab=plain_host_duts)
    row = np.random.default_rng(13).integers(-128, 128, size=spec.shape, dtype=np.int8)
    with DutSession(board.port) as session:
        session.sync()
        assert session.profile().model == "ic01"
        printed = {}
        for how, data in (("pixels", session.db_bytes(row.tobytes())), ("tensor", row.tobytes())):
            session._load_hex(data)   # the 'db' path itself, without the host's encoding
            session.infer(1, 0)
            printed[how] = np.array(session.results())
    expected = interpreter_outputs(model, row).reshape(-1)
    [out_spec] = model_output_specs(model)
    dequantized = dequantize_like_reference_firmware(expected, out_spec.scale, out_spec.zero_point)
    np.testing.assert_allclose(printed["pixels"], dequantized, atol=1e-3)
    assert not np.allclose(printed["tensor"], dequantized, atol=1e-3)


def ad01_dataset(root, mlperf_tiny) -> tuple[np.ndarray, np.ndarray]:
    """An ad01 set in the runner's older layout: 640 float32 features per file, from the zoo's
    anomaly-detection vectors (normal and anomalous machine sounds)."""
    from hilbench.paths import zoo_root
    from test_runner_dataset import write_runner_dataset

    vectors = np.load(zoo_root() / "ad" / "vectors.npz")
    pick = np.r_[0:3, 196:199]
    x, y = vectors["x"][pick].reshape(len(pick), -1).astype(np.float32), vectors["y"][pick]
    write_runner_dataset(root, "ad01", {f"f{i}.bin": row.astype("<f4").tobytes() for i, row in enumerate(x)},
                         [f"f{i}.bin,2,{label}" for i, label in enumerate(y)])
    return x, y


def test_pytest_suite_on_a_plain_ad01_dut_scores_its_printed_anomaly_scores(tmp_path, mlperf_tiny):
    """pytest --board=B --lab lab.yaml --model=ad01_int8 --dataset DIR against a plain ad01 twin
    on a socket:// URL: the DUT takes the runner's float32 files on 'db' and prints one score
    per file; the AUC is over those scores, and every score agrees with the host's own (from
    tflite-micro's int8 outputs on the same features) to the printed three decimals."""
    from sklearn.metrics import roc_auc_score

    from hilbench.measure.reference import interpreter_outputs
    from test_plain_mlperf_twin import suite_on_a_plain_twin

    model = mlperf_tiny("ad01_int8")
    x, y = ad01_dataset(tmp_path / "sets", mlperf_tiny)
    row, figures = suite_on_a_plain_twin(tmp_path, "ad01_int8", f"--dataset={tmp_path / 'sets'}")
    assert (row["model"], row["mode"], row["latency_source"]) == ("ad01_int8", "emulated", "icount")
    assert row["bitexact_rate"] == ""
    assert figures["outputs"] == "score"
    assert figures["accuracy"]["bitexact_missing_because"] == "the DUT prints one anomaly score, not the output tensor"
    scores = figures["dut_protocol"]["printed_scores"]
    assert (scores["agreement_rate"], scores["compared"]) == (1.0, len(y))

    [spec_in] = model_input_specs(model)
    quantized = quantize_like_reference_firmware(x, spec_in)
    [out_spec] = model_output_specs(model)
    host = anomaly_score_like_reference_firmware(interpreter_outputs(model, quantized).reshape(len(y), -1),
                                                 out_spec, x)
    assert float(row["accuracy"]) == pytest.approx(roc_auc_score(y, np.trunc(host * 1000) / 1000))


def test_scores_of_a_dut_that_reads_db_otherwise_stop_the_run(tmp_path, mlperf_tiny):
    """The host's score check catches a wire-format mismatch: here the host encodes the ad01
    features at an eighth of the model's input scale, so the plain DUT quantizes other int8 values
    than tflite-micro runs on, and its printed scores are far from the host's."""
    from dataclasses import replace

    from hilbench.bench import compiled_model_dir, open_dut
    from hilbench.boards import resolve_boards
    from hilbench.build import build_firmware
    from hilbench.compile import compile_model
    from hilbench.deploy.host import start_host_firmware
    from hilbench.errors import DutError, MeasurementError
    from hilbench.measure.reference import interpreter_outputs
    from hilbench.procedure import ReferenceData, check_printed_scores
    from hilbench.twin_serve import PLAIN_MLPERF_DEFINES

    model = mlperf_tiny("ad01_int8")
    compiled = compile_model(model, compiled_model_dir(model, "auto"))
    firmware = build_firmware("host", compiled, extra_defines=PLAIN_MLPERF_DEFINES)
    x = np.random.default_rng(3).integers(-60, 60, size=(3, 640), dtype=np.int8)
    with start_host_firmware(firmware) as endpoint:
        lab = tmp_path / "lab.yaml"
        lab.write_text(f"boards:\n  ad:\n    extends: nano33\n    connection: {{port: '{endpoint.url}'}}\n"
                       "    flasher: {kind: none}\n")
        [board] = resolve_boards(["ad"], lab=lab)
        with open_dut(board, "ad01_int8") as dut:
            # Float features the host has reach the DUT byte for byte, as the runner sends a file.
            features = np.random.default_rng(5).normal(0, 2, size=(1, 640)).astype("<f4")
            dut.read_outputs(quantize_like_reference_firmware(features, dut.input_spec),
                             real_values=features.astype(np.float64))
            assert dut.session.db_print() == features.tobytes()
            with pytest.raises(DutError, match="prints one anomaly score per inference"):
                dut.infer(x[:1])   # what 'hilbench infer' runs: no output tensor to write
            data = ReferenceData(x_int8=x)
            outputs, _ = dut.read_outputs(x)
            expected = interpreter_outputs(model, x).reshape(3, -1)
            assert check_printed_scores(dut, data, outputs, expected)["agreement_rate"] == 1.0
            dut.session.input_spec = replace(dut.session.input_spec, scale=dut.session.input_spec.scale / 8)
            outputs, _ = dut.read_outputs(x)
            with pytest.raises(MeasurementError, match="printed anomaly scores far from the host's"):
                check_printed_scores(dut, data, outputs, expected)


def test_hilbench_firmware_takes_the_runners_features_on_db_and_the_tensor_on_its_binary_load(
        mlperf_tiny):
    """hilbench's own ad01 firmware (not the plain build), as MLPerf Tiny's runner drives it:
    float32 features on 'db' and one anomaly score on 'results'; 'hb bulk' still loads the
    int8 tensor, and 'hb raw' still gives the output tensor, both tflite-micro's."""
    from hilbench.bench import compiled_model_dir
    from hilbench.build import build_firmware
    from hilbench.compile import compile_model
    from hilbench.deploy.host import start_host_firmware
    from hilbench.measure.reference import interpreter_outputs
    from hilbench.session import DutSession

    model = mlperf_tiny("ad01_int8")
    compiled = compile_model(model, compiled_model_dir(model, "auto"))
    [spec], [out_spec] = compiled.inputs, compiled.outputs
    features = np.random.default_rng(4).normal(0, 2, size=640).astype(np.float32)
    tensor = quantize_like_reference_firmware(features, spec)
    expected = interpreter_outputs(model, tensor.reshape(1, -1)).reshape(1, -1)
    with start_host_firmware(build_firmware("host", compiled)) as endpoint, \
            DutSession.from_endpoint(endpoint) as session:
        session.sync()
        assert session.profile().model == "ad01" and session.load_path != "hex"
        session._load_hex(features.astype("<f4").tobytes())    # what the runner sends
        session.infer(1, 0)
        [score] = session.results()
        assert np.array_equal(np.frombuffer(session.raw_output(), np.int8), expected[0])
        host = anomaly_score_like_reference_firmware(expected, out_spec, features)[0]
        assert abs(score - host) <= 0.0005 + 1e-6 * host     # this build rounds to 3 decimals
        session.load_input(tensor.tobytes())                  # hb bulk: the int8 tensor itself
        session.infer(1, 0)
        assert np.array_equal(np.frombuffer(session.raw_output(), np.int8), expected[0])
        [score] = session.results()   # against the tensor's dequantization, the only real values it has
        host = anomaly_score_like_reference_firmware(
            expected, out_spec, dequantize_like_reference_firmware(tensor, spec.scale, spec.zero_point))[0]
        assert abs(score - host) <= 0.0005 + 1e-6 * host
