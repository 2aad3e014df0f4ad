"""Client for the Open Inference Protocol (KServe V2) over HTTP/REST, standard library only.

Speaks the part of the protocol that Triton, KServe and MLServer all implement: server
readiness (``GET /v2/health/ready``), model metadata (``GET /v2/models/{name}``) and inference
(``POST /v2/models/{name}/infer``) with JSON tensors ``{name, shape, datatype, data}``.

Per request it measures the round trip with the host clock, from the first byte sent to the
last byte received (JSON encoding and decoding on this side are outside it), and the server's
compute time where the server reports one:

- ``response-parameter``: the response's ``parameters.compute_infer_ns`` (hilbench's MLServer
  runtime sets it around the interpreter call);
- ``server-statistics``: Triton's statistics extension: the change of
  ``inference_stats.compute_infer.ns`` of the model across the request (exact only while no other
  client uses that model);
- ``not-reported``: neither is available (KServe's and MLServer's stock runtimes).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hilbench.errors import DeployError, HilbenchError

COMPUTE_TIME_PARAMETER = "compute_infer_ns"
COMPUTE_SOURCE_RESPONSE = "response-parameter"
COMPUTE_SOURCE_STATISTICS = "server-statistics"
COMPUTE_SOURCE_NOT_REPORTED = "not-reported"
ROUND_TRIP_SOURCE = "host-clock"

V2_TO_NUMPY_DATATYPE = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP32": np.float32,
    "FP64": np.float64,
}
NUMPY_TO_V2_DATATYPE = {np.dtype(numpy_type): name for name, numpy_type in V2_TO_NUMPY_DATATYPE.items()}


class CloudError(HilbenchError):
    """The inference server answered with an error, or not as the Open Inference Protocol says."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output as the server's model metadata describes it (-1: variable dimension)."""

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelMetadata:
    """``GET /v2/models/{name}``: the model's name, platform, versions and tensors."""

    name: str
    platform: str
    versions: tuple[str, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class InferResult:
    """Outputs of one inference request, with its timings.

    ``server_compute_ms`` is None when the server does not report it; ``compute_source`` then
    says ``not-reported``.
    """

    outputs: dict[str, np.ndarray]
    round_trip_ms: float
    server_compute_ms: float | None
    compute_source: str
    request_bytes: int
    response_bytes: int

    @property
    def round_trip_source(self) -> str:
        return ROUND_TRIP_SOURCE


class OpenInferenceClient:
    """HTTP/REST client of one Open Inference Protocol server, e.g. ``http://127.0.0.1:8080``.

    Keeps one persistent connection, so that the measured round trip does not include a TCP
    handshake per request (reconnects once if the server closed it).
    """

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise CloudError(f"server URL '{url}' is not an http:// or https:// URL; give e.g. http://127.0.0.1:8080")
        self.url = url.rstrip("/")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port
        self._base_path = parsed.path.rstrip("/")
        self._timeout_s = timeout_s
        self._connection: http.client.HTTPConnection | None = None
        self._has_statistics: bool | None = None
        self._input_names: dict[str, tuple[str, ...]] = {}

    # ----- plumbing -----------------------------------------------------------------------
    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            connection_class = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._connection = connection_class(self._host, self._port, timeout=self._timeout_s)
        return self._connection

    def close(self) -> None:
        """Close the persistent connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> OpenInferenceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        """Send one request; return (status, body, round-trip ms on the host clock)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):
            connection = self._connect()
            try:
                started = time.perf_counter_ns()
                connection.request(method, self._base_path + path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                round_trip_ms = (time.perf_counter_ns() - started) / 1e6
                return response.status, payload, round_trip_ms
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                # A kept-alive connection the server has since closed: retry once on a new one.
                self.close()
                if attempt == 2:
                    raise DeployError(f"inference server {self.url} closed the connection: {error}") from error
            except TimeoutError as error:
                self.close()
                raise DeployError(f"inference server {self.url} did not answer {method} {path} within {self._timeout_s} s") from error
            except OSError as error:
                self.close()
                raise DeployError(f"cannot reach the inference server at {self.url} ({error}); is it running?") from error
        raise AssertionError("unreachable")

    def _get_json(self, path: str) -> dict:
        status, payload, _ = self._request("GET", path)
        return self._decode(status, payload, f"GET {path}")

    def _decode(self, status: int, payload: bytes, what: str) -> dict:
        try:
            document = json.loads(payload) if payload else {}
        except json.JSONDecodeError as error:
            raise CloudError(f"{what} on {self.url} returned HTTP {status} with a body that is not JSON: {payload[:200]!r}") from error
        if status != 200:
            # Triton, KServe and MLServer all put the reason in "error"; FastAPI validation uses "detail".
            reason = document.get("error") or document.get("detail") or payload[:200]
            raise CloudError(f"{what} on {self.url} failed with HTTP {status}: {reason}")
        return document

    # ----- protocol -----------------------------------------------------------------------
    def server_ready(self) -> bool:
        """``GET /v2/health/ready``: True when the server answers 200."""
        try:
            status, _, _ = self._request("GET", "/v2/health/ready")
        except DeployError:
            return False
        return status == 200

    def model_metadata(self, model: str) -> ModelMetadata:
        """``GET /v2/models/{model}``."""
        document = self._get_json(f"/v2/models/{urllib.parse.quote(model)}")
        try:
            return ModelMetadata(
                name=document["name"],
                platform=document.get("platform", ""),
                versions=tuple(document.get("versions") or ()),
                inputs=tuple(_tensor_spec(tensor) for tensor in document.get("inputs") or ()),
                outputs=tuple(_tensor_spec(tensor) for tensor in document.get("outputs") or ()),
            )
        except (KeyError, TypeError) as error:
            raise CloudError(f"model metadata of '{model}' from {self.url} is malformed ({error!r}): {document}") from error

    def server_extensions(self) -> tuple[str, ...]:
        """``GET /v2``: the protocol extensions the server declares (Triton: 'statistics', ...)."""
        return tuple(self._get_json("/v2").get("extensions") or ())

    def infer(
        self,
        model: str,
        inputs: np.ndarray | Mapping[str, np.ndarray],
        version: str | None = None,
    ) -> InferResult:
        """``POST /v2/models/{model}[/versions/{version}]/infer`` with JSON tensors.

        ``inputs`` maps input names to arrays; a bare array is sent as the model's only input
        (its name taken from the model metadata). Returns the outputs as numpy arrays of the
        datatype the server declares, and the request's timings.
        """
        named_inputs = self._name_inputs(model, inputs)
        request = {"inputs": [_encode_tensor(name, array) for name, array in named_inputs.items()]}
        body = json.dumps(request).encode()
        path = f"/v2/models/{urllib.parse.quote(model)}"
        if version:
            path += f"/versions/{urllib.parse.quote(version)}"

        statistics_before = self._compute_statistics_ns(model, version)
        status, payload, round_trip_ms = self._request("POST", path + "/infer", body)
        statistics_after = self._compute_statistics_ns(model, version) if statistics_before is not None else None

        document = self._decode(status, payload, f"inference on model '{model}'")
        try:
            outputs = {tensor["name"]: _decode_tensor(tensor) for tensor in document["outputs"]}
        except (KeyError, TypeError, ValueError) as error:
            raise CloudError(f"inference response of model '{model}' from {self.url} is malformed ({error!r})") from error

        reported_ns = (document.get("parameters") or {}).get(COMPUTE_TIME_PARAMETER)
        if reported_ns is not None:
            server_compute_ms, compute_source = float(reported_ns) / 1e6, COMPUTE_SOURCE_RESPONSE
        elif statistics_before is not None and statistics_after is not None:
            server_compute_ms, compute_source = (statistics_after - statistics_before) / 1e6, COMPUTE_SOURCE_STATISTICS
        else:
            server_compute_ms, compute_source = None, COMPUTE_SOURCE_NOT_REPORTED
        return InferResult(
            outputs=outputs,
            round_trip_ms=round_trip_ms,
            server_compute_ms=server_compute_ms,
            compute_source=compute_source,
            request_bytes=len(body),
            response_bytes=len(payload),
        )

    def _name_inputs(self, model: str, inputs: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if isinstance(inputs, Mapping):
            return {name: np.asarray(array) for name, array in inputs.items()}
        if model not in self._input_names:
            # Asked once per model, so that timed loops send one request per inference.
            self._input_names[model] = tuple(spec.name for spec in self.model_metadata(model).inputs)
        input_names = self._input_names[model]
        if len(input_names) != 1:
            raise CloudError(f"model '{model}' has {len(input_names)} inputs ({list(input_names)}); pass a dict of input name to array")
        return {input_names[0]: np.asarray(inputs)}

    def _compute_statistics_ns(self, model: str, version: str | None) -> int | None:
        """Triton's cumulative compute time of ``model`` in ns, or None without the statistics extension."""
        if self._has_statistics is None:
            try:
                self._has_statistics = "statistics" in self.server_extensions()
            except CloudError:
                self._has_statistics = False
        if not self._has_statistics:
            return None
        path = f"/v2/models/{urllib.parse.quote(model)}"
        if version:
            path += f"/versions/{urllib.parse.quote(version)}"
        model_stats = self._get_json(path + "/stats").get("model_stats") or []
        total_ns = 0
        for entry in model_stats:
            compute = (entry.get("inference_stats") or {}).get("compute_infer") or {}
            total_ns += int(compute.get("ns", 0))
        return total_ns


def _tensor_spec(tensor: dict) -> TensorSpec:
    return TensorSpec(name=tensor["name"], datatype=tensor["datatype"], shape=tuple(int(dim) for dim in tensor["shape"]))


def _encode_tensor(name: str, array: np.ndarray) -> dict:
    datatype = NUMPY_TO_V2_DATATYPE.get(array.dtype)
    if datatype is None:
        raise CloudError(
            f"input '{name}' has dtype {array.dtype}, which has no JSON form in the Open Inference Protocol; "
            f"convert it to one of {sorted(str(np.dtype(t)) for t in V2_TO_NUMPY_DATATYPE.values())}"
        )
    # Row-major flattened data, as the protocol specifies; tolist() gives exact float32 -> JSON round trips.
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": array.reshape(-1).tolist()}


def _decode_tensor(tensor: dict) -> np.ndarray:
    datatype = tensor["datatype"]
    if datatype not in V2_TO_NUMPY_DATATYPE:
        raise ValueError(f"output '{tensor['name']}' has datatype {datatype}, which this client does not decode")
    shape = [int(dim) for dim in tensor["shape"]]
    # Servers may send the data flat or nested; both are row-major.
    return np.asarray(tensor["data"], dtype=V2_TO_NUMPY_DATATYPE[datatype]).reshape(shape)
