"""The client against servers other than MLServer: a small HTTP server on 127.0.0.1 that answers
with the JSON documents Triton and KServe define (Triton's statistics extension, KServe's plain
V2 responses), to check how compute time is found or reported as missing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from hilbench.cloud.client import (
    COMPUTE_SOURCE_NOT_REPORTED,
    COMPUTE_SOURCE_STATISTICS,
    CloudError,
    OpenInferenceClient,
)

TRITON_COMPUTE_NS_PER_REQUEST = 250_000


class ProtocolServer(ThreadingHTTPServer):
    """Answers like Triton (``statistics`` extension) or like KServe (no extension)."""

    def __init__(self, flavour: str) -> None:
        super().__init__(("127.0.0.1", 0), ProtocolHandler)
        self.flavour = flavour
        self.compute_ns_total = 0
        self.requests: list[dict] = []


class ProtocolHandler(BaseHTTPRequestHandler):
    server: ProtocolServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _reply(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        flavour = self.server.flavour
        if self.path == "/v2":
            extensions = ["classification", "sequence", "model_repository", "schedule_policy", "statistics"] if flavour == "triton" else []
            self._reply(200, {"name": flavour, "version": "1", "extensions": extensions})
        elif self.path == "/v2/models/double":
            self._reply(200, {
                "name": "double", "versions": ["1"], "platform": "python",
                "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [-1, 4]}],
                "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": [-1, 4]}],
            })
        elif self.path == "/v2/models/double/stats" and flavour == "triton":
            # Triton's statistics extension: cumulative durations in ns since the server started.
            count = len(self.server.requests)
            self._reply(200, {"model_stats": [{
                "name": "double", "version": "1", "inference_count": count, "execution_count": count,
                "inference_stats": {
                    "success": {"count": count, "ns": self.server.compute_ns_total * 2},
                    "queue": {"count": count, "ns": 1000 * count},
                    "compute_input": {"count": count, "ns": 500 * count},
                    "compute_infer": {"count": count, "ns": self.server.compute_ns_total},
                    "compute_output": {"count": count, "ns": 500 * count},
                },
            }]})
        else:
            self._reply(400 if flavour == "triton" else 404, {"error": f"Request for unknown model: '{self.path}' is not found"})

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(request)
        tensor = request["inputs"][0]
        data = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"]) * 2
        self.server.compute_ns_total += TRITON_COMPUTE_NS_PER_REQUEST
        # Nested lists are also valid row-major data in the protocol.
        self._reply(200, {
            "model_name": "double", "model_version": "1",
            "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": list(data.shape), "data": data.tolist()}],
        })


@pytest.fixture(params=["triton", "kserve"])
def protocol_server(request):
    server = ProtocolServer(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_infer_sends_v2_json_and_decodes_outputs(protocol_server):
    url = f"http://127.0.0.1:{protocol_server.server_address[1]}"
    with OpenInferenceClient(url) as client:
        x = np.array([[1.5, -2.0, 0.25, 3.0]], dtype=np.float32)
        result = client.infer("double", x)
    assert protocol_server.requests[-1] == {"inputs": [{"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "data": [1.5, -2.0, 0.25, 3.0]}]}
    np.testing.assert_array_equal(result.outputs["OUTPUT0"], x * 2)
    assert result.outputs["OUTPUT0"].dtype == np.float32
    assert result.round_trip_ms > 0
    if protocol_server.flavour == "triton":
        assert result.compute_source == COMPUTE_SOURCE_STATISTICS
        assert result.server_compute_ms == pytest.approx(TRITON_COMPUTE_NS_PER_REQUEST / 1e6)
    else:
        assert result.compute_source == COMPUTE_SOURCE_NOT_REPORTED
        assert result.server_compute_ms is None


def test_error_documents_are_surfaced(protocol_server):
    url = f"http://127.0.0.1:{protocol_server.server_address[1]}"
    with OpenInferenceClient(url) as client, pytest.raises(CloudError, match=r"HTTP (400|404): Request for unknown model"):
        client.model_metadata("missing")


def test_inputs_that_json_cannot_carry_are_refused():
    with OpenInferenceClient("http://127.0.0.1:9") as client, pytest.raises(CloudError, match="dtype float16, which has no JSON form"):
        client.infer("double", {"INPUT0": np.zeros((1, 4), np.float16)})


def test_bad_url_is_explained():
    with pytest.raises(CloudError, match="not an http:// or https:// URL"):
        OpenInferenceClient("127.0.0.1:8080")
