"""MLServer inference runtime that runs a float .tflite model with the TensorFlow Lite interpreter.

This file runs inside the MLServer environment that ``hilbench cloud serve`` manages, not inside
hilbench: it imports only MLServer, numpy and the LiteRT (TensorFlow Lite) interpreter, so that
hilbench itself does not need to be installed there. MLServer finds it through PYTHONPATH and
the ``implementation`` field of each model-settings.json.

Every response carries the time spent in ``Interpreter.invoke()`` as the response parameter
``compute_infer_ns`` (named after Triton's statistics field), so that clients can tell server
compute apart from the round trip.
"""

from __future__ import annotations

import time

import numpy as np
from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import (
    InferenceRequest,
    InferenceResponse,
    MetadataTensor,
    Parameters,
    ResponseOutput,
)

try:  # LiteRT is TensorFlow Lite's current package name; TensorFlow itself works as well.
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # pragma: no cover - depends on what the server environment has
    from tensorflow.lite import Interpreter  # type: ignore[no-redef]

# Mirrors hilbench.cloud.client (this file cannot import hilbench); the end-to-end tests check
# that the client finds this parameter and decodes these datatypes.
COMPUTE_TIME_PARAMETER = "compute_infer_ns"

NUMPY_TO_V2_DATATYPE = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "UINT8",
    np.dtype(np.uint16): "UINT16",
    np.dtype(np.uint32): "UINT32",
    np.dtype(np.uint64): "UINT64",
    np.dtype(np.int8): "INT8",
    np.dtype(np.int16): "INT16",
    np.dtype(np.int32): "INT32",
    np.dtype(np.int64): "INT64",
    np.dtype(np.float16): "FP16",
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
}


class TFLiteRuntime(MLModel):
    """Serves one .tflite file (``parameters.uri`` in model-settings.json), one thread, batch of 1
    per invoke; a request with a larger first dimension is run row by row."""

    async def load(self) -> bool:
        model_path = self.settings.parameters.uri
        try:
            # One thread: the figure we report is per-inference compute, not server throughput.
            self._interpreter = Interpreter(model_path=model_path, num_threads=1)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise MLServerError(f"cannot load model '{self.name}' from {model_path}: {error}") from error
        self._input_details = self._interpreter.get_input_details()
        self._output_details = self._interpreter.get_output_details()
        self.inputs = [_metadata_tensor(detail) for detail in self._input_details]
        self.outputs = [_metadata_tensor(detail) for detail in self._output_details]
        self.settings.platform = "tflite"
        self.ready = True
        return self.ready

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        inputs_by_name = self._decode_inputs(payload)
        batch = next(iter(inputs_by_name.values())).shape[0]
        outputs: list[list[np.ndarray]] = [[] for _ in self._output_details]
        compute_ns = 0
        for row in range(batch):
            for detail in self._input_details:
                self._interpreter.set_tensor(detail["index"], inputs_by_name[detail["name"]][row : row + 1])
            started = time.perf_counter_ns()
            self._interpreter.invoke()
            compute_ns += time.perf_counter_ns() - started
            for position, detail in enumerate(self._output_details):
                outputs[position].append(self._interpreter.get_tensor(detail["index"]).copy())

        response_outputs = []
        for detail, rows in zip(self._output_details, outputs):
            tensor = np.concatenate(rows, axis=0)
            response_outputs.append(
                ResponseOutput(
                    name=detail["name"],
                    shape=list(tensor.shape),
                    datatype=NUMPY_TO_V2_DATATYPE[tensor.dtype],
                    data=tensor.flatten().tolist(),
                )
            )
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            parameters=Parameters(**{COMPUTE_TIME_PARAMETER: compute_ns}),
            outputs=response_outputs,
        )

    def _decode_inputs(self, payload: InferenceRequest) -> dict[str, np.ndarray]:
        """Check names, datatypes and shapes against the model; return arrays keyed by name."""
        expected = {detail["name"]: detail for detail in self._input_details}
        received = {request_input.name: request_input for request_input in payload.inputs}
        missing = sorted(set(expected) - set(received))
        unknown = sorted(set(received) - set(expected))
        if missing or unknown:
            raise MLServerError(
                f"model '{self.name}' expects inputs {sorted(expected)}; "
                f"missing {missing}, unknown {unknown}"
            )
        arrays = {}
        batches = set()
        for name, detail in expected.items():
            request_input = received[name]
            datatype = NUMPY_TO_V2_DATATYPE[np.dtype(detail["dtype"])]
            # MLServer versions differ on whether the datatype arrives as an enum or a string.
            sent_datatype = getattr(request_input.datatype, "value", request_input.datatype)
            if sent_datatype != datatype:
                raise MLServerError(
                    f"input '{name}' of model '{self.name}' is {datatype}, request sent {sent_datatype}"
                )
            per_row_shape = [int(dim) for dim in detail["shape"][1:]]
            if list(request_input.shape[1:]) != per_row_shape or len(request_input.shape) < 1:
                raise MLServerError(
                    f"input '{name}' of model '{self.name}' has shape [N, {', '.join(map(str, per_row_shape))}], "
                    f"request sent {list(request_input.shape)}"
                )
            data = np.asarray(request_input.data.root, dtype=detail["dtype"])
            expected_size = int(np.prod(request_input.shape))
            if data.size != expected_size:
                raise MLServerError(
                    f"input '{name}' declares shape {list(request_input.shape)} ({expected_size} values) "
                    f"but carries {data.size} values"
                )
            arrays[name] = data.reshape(request_input.shape)
            batches.add(int(request_input.shape[0]))
        if len(batches) != 1 or 0 in batches:
            raise MLServerError(f"inputs of model '{self.name}' must share one non-zero batch size, got {sorted(batches)}")
        return arrays


def _metadata_tensor(detail: dict) -> MetadataTensor:
    # -1 marks the batch dimension as variable, as Triton does for batched models.
    shape = [-1] + [int(dim) for dim in detail["shape"][1:]]
    return MetadataTensor(
        name=detail["name"], datatype=NUMPY_TO_V2_DATATYPE[np.dtype(detail["dtype"])], shape=shape
    )
