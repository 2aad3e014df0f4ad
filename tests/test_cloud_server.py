"""End-to-end: a real MLServer subprocess on 127.0.0.1 serving MLPerf Tiny float models, driven
by the Open Inference Protocol client; outputs checked against the local TFLite Micro interpreter."""

from __future__ import annotations

import os
import shutil
import signal
import time

import numpy as np
import pytest
from tflite_micro.python.tflite_micro import runtime as tflm_runtime

from hilbench.cloud import CloudError, OpenInferenceClient, measure_cloud, serve_models, start_server
from hilbench.cloud.client import COMPUTE_SOURCE_RESPONSE
from hilbench.errors import DeployError, ModelError
from tests.support.mlperf_tiny import mlperf_tiny_model

AD_MODEL = "ad01_fp32"  # FC autoencoder, input 1x640 float32
IC_MODEL = "pretrainedResnet"  # ResNet-8 CIFAR-10, input 1x32x32x3 float32, 10 classes
TFLM_ARENA_BYTES = 1 << 20


@pytest.fixture(scope="module", autouse=True)
def mlperf_float_models():
    """The served models are MLPerf Tiny float models: without them this module is skipped."""
    return {name: mlperf_tiny_model(name) for name in (AD_MODEL, IC_MODEL)}


def reference_outputs(model: str, vectors: np.ndarray) -> np.ndarray:
    """Run each row through the local TFLite Micro interpreter (the float reference)."""
    interpreter = tflm_runtime.Interpreter.from_file(str(mlperf_tiny_model(model)), arena_size=TFLM_ARENA_BYTES)
    outputs = []
    for row in vectors:
        interpreter.set_input(row[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).copy())
    return np.concatenate(outputs, axis=0)


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def server():
    with serve_models([AD_MODEL, IC_MODEL]) as handle:
        yield handle


@pytest.fixture()
def client(server):
    with OpenInferenceClient(server.url) as connection:
        yield connection


def test_server_reports_ready_and_model_metadata(client):
    assert client.server_ready()
    metadata = client.model_metadata(AD_MODEL)
    assert metadata.name == AD_MODEL
    assert [(spec.datatype, spec.shape) for spec in metadata.inputs] == [("FP32", (-1, 640))]
    assert [(spec.datatype, spec.shape) for spec in metadata.outputs] == [("FP32", (-1, 640))]
    resnet = client.model_metadata(IC_MODEL)
    assert resnet.inputs[0].shape == (-1, 32, 32, 3)
    assert resnet.outputs[0].shape == (-1, 10)


@pytest.mark.parametrize("model, shape", [(AD_MODEL, (640,)), (IC_MODEL, (32, 32, 3))])
def test_outputs_match_local_interpreter(client, model, shape):
    vectors = np.random.default_rng(7).standard_normal((3, *shape)).astype(np.float32)
    expected = reference_outputs(model, vectors)
    for row in range(vectors.shape[0]):
        result = client.infer(model, vectors[row : row + 1])
        (output,) = result.outputs.values()
        assert output.dtype == np.float32
        assert output.shape == expected[row : row + 1].shape
        # Different float kernels (server: LiteRT/XNNPACK, reference: TFLM) round differently.
        np.testing.assert_allclose(output, expected[row : row + 1], rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_batched_request_equals_row_by_row(client):
    vectors = np.random.default_rng(3).standard_normal((3, 640)).astype(np.float32)
    batched = client.infer(AD_MODEL, vectors).outputs["Identity"]
    rows = np.concatenate([client.infer(AD_MODEL, vectors[i : i + 1]).outputs["Identity"] for i in range(3)])
    assert batched.shape == (3, 640)
    np.testing.assert_array_equal(batched, rows)


def test_measure_round_trip_compute_and_accuracy(client):
    vectors = np.random.default_rng(11).random((6, 32, 32, 3)).astype(np.float32)
    reference_classes = np.argmax(reference_outputs(IC_MODEL, vectors), axis=1)
    # Half the labels agree with the float reference and half do not, so a correct pipeline
    # must land on exactly 0.5.
    labels = reference_classes.copy()
    labels[3:] = (labels[3:] + 1) % 10

    measurement = measure_cloud(client, IC_MODEL, vectors, labels=labels)

    assert measurement.requests == 6
    assert measurement.accuracy == pytest.approx(0.5)
    assert measurement.compute_source == COMPUTE_SOURCE_RESPONSE
    assert measurement.round_trip_source == "host-clock"
    assert 0 < measurement.server_compute_ms_p50 < measurement.round_trip_ms_p50
    assert measurement.round_trip_ms_p50 <= measurement.round_trip_ms_p90
    assert min(measurement.round_trip_ms) <= measurement.round_trip_ms_p50 <= max(measurement.round_trip_ms)
    assert measurement.input_elements == 32 * 32 * 3
    np.testing.assert_array_equal(np.argmax(measurement.outputs["Identity"], axis=1), reference_classes)


def test_wrong_input_name_and_shape_are_explained(client):
    with pytest.raises(CloudError, match=r"expects inputs \['input_1'\]"):
        client.infer(AD_MODEL, {"features": np.zeros((1, 640), np.float32)})
    with pytest.raises(CloudError, match=r"shape \[N, 640\].*\[1, 10\]"):
        client.infer(AD_MODEL, np.zeros((1, 10), np.float32))
    with pytest.raises(CloudError, match="is FP32, request sent INT32"):
        client.infer(AD_MODEL, np.zeros((1, 640), np.int32))


def test_unknown_model_is_a_clear_error(client):
    with pytest.raises(CloudError, match="HTTP 404.*no_such_model"):
        client.model_metadata("no_such_model")


def test_stop_leaves_no_process_and_frees_the_port():
    server = start_server([AD_MODEL])
    pid = server.pid
    assert process_group_alive(pid)
    server.stop()
    assert server.process.poll() is not None
    assert not process_group_alive(pid)
    assert not server.workdir.exists()
    with pytest.raises(DeployError, match="cannot reach"):
        OpenInferenceClient(server.url, timeout_s=2).model_metadata(AD_MODEL)


def test_context_manager_stops_server_on_error():
    with pytest.raises(RuntimeError, match="boom"):
        with serve_models({"ad": AD_MODEL}) as server:
            pid = server.pid
            raise RuntimeError("boom")
    assert not process_group_alive(pid)


def test_server_that_dies_reports_its_log(tmp_path):
    broken = tmp_path / "broken.tflite"
    # Passes the identifier check but is no valid flatbuffer: the runtime fails to load it.
    broken.write_bytes(b"\x00\x00\x00\x00TFL3" + b"\x00" * 64)
    started = time.monotonic()
    with pytest.raises(DeployError, match=r"(?s)exited with code .*last log lines:.*cannot load model .*broken.tflite"):
        with serve_models([broken], startup_timeout_s=60):
            pass
    assert time.monotonic() - started < 60


def test_bad_model_arguments(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        with serve_models(["no_such_model_anywhere"]):
            pass
    text_file = tmp_path / "notes.tflite"
    text_file.write_text("not a model")
    with pytest.raises(ModelError, match="not a TensorFlow Lite flatbuffer"):
        with serve_models([text_file]):
            pass
    copy = tmp_path / "ad01_fp32.tflite"
    shutil.copy(mlperf_tiny_model(AD_MODEL), copy)
    with pytest.raises(ModelError, match="both be served as 'ad01_fp32'"):
        with serve_models([AD_MODEL, copy]):
            pass


SERVE_COMMAND = (
    "import argparse, sys\n"
    "from hilbench.cloud.cli import add_cloud_serve_arguments, cmd_cloud_serve\n"
    "parser = argparse.ArgumentParser()\n"
    "add_cloud_serve_arguments(parser)\n"
    "sys.exit(cmd_cloud_serve(parser.parse_args(sys.argv[1:])))\n"
)


def test_serve_command_serves_until_sigterm():
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_COMMAND, AD_MODEL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("serving on http://127.0.0.1:"), first_line + process.stderr.read()
        url = first_line.split()[2]
        server_pid = int(first_line.split("MLServer pid ")[1].split(")")[0])
        assert process_group_alive(server_pid)
        assert f"{AD_MODEL}: {url}/v2/models/{AD_MODEL}/infer" in process.stdout.readline()
        result = OpenInferenceClient(url).infer(AD_MODEL, np.zeros((1, 640), np.float32))
        assert result.outputs["Identity"].shape == (1, 640)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not process_group_alive(process.pid)
    assert not process_group_alive(server_pid)
    with pytest.raises(DeployError, match="cannot reach"):
        OpenInferenceClient(url, timeout_s=2).server_extensions()


def test_server_python_override_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("HILBENCH_MLSERVER_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(DeployError, match="HILBENCH_MLSERVER_PYTHON=.*does not exist"):
        with serve_models([AD_MODEL]):
            pass


def test_port_in_use_is_refused_before_starting():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DeployError, match=f"port {port} on 127.0.0.1 is in use"):
            with serve_models([AD_MODEL], port=port):
                pass
