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
    assert [device_model_name(f"/any/{stem}.tflite") for stem in MODEL_IDS] == [
        "kws01", "vww01", "ic01", "ad01"]
    assert all(MODEL_OF_ID[MODEL_IDS[stem]] == stem for stem in MODEL_IDS)
    assert device_model_name("/any/my_model.tflite") == "my_model"


def test_firmware_for_a_zoo_model_answers_with_the_zoo_name(tmp_path):
    """The zoo keeps models_zoo/<name>/int8.tflite: the firmware answers m-model-[<name>], the
    name the model has in results, not the file's stem 'int8'."""
    from hilbench.paths import zoo_root

    compiled = compile_model(zoo_root() / "kws" / "int8.tflite", tmp_path / "c")
    assert compiled.model_name == "kws"
    assert 'hb_model_name[] = "kws";' in (tmp_path / "c" / "hb_model.c").read_text()


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


