"""Host-side references for the device's outputs: the tflite-micro interpreter.

The int8 model run by tflite-micro is what the firmware must match bit for bit
(``bitexact_rate``); the float model run on the same inputs gives ``accuracy_float``.

The interpreter is a pure function of its version, the model file and the input bytes, so its
outputs are kept in the cache under a hash of all three, beside the firmware builds: a second
run on the same vectors reads them instead of spending seconds of host time again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from hilbench.errors import MeasurementError
from hilbench.paths import cache_root


def interpreter_outputs(model_path: str | Path, inputs: np.ndarray) -> np.ndarray:
    """The tflite-micro interpreter's first output for every row of ``inputs``.

    One invoke per row, with the input set before every invoke (the arena planner may reuse
    the input's bytes), as the firmware does. Rows are in the model's input dtype; returns an
    array of shape (rows, *output shape without its batch dimension).
    """
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise MeasurementError(f"reference outputs need tflite-micro ({error}), a dependency of "
                               "hilbench: pip install --force-reinstall hilbench") from error
    inputs = np.ascontiguousarray(inputs)
    cached = cache_root() / "reference" / f"{_reference_key(Path(model_path), inputs)}.npy"
    try:
        return np.load(cached, allow_pickle=False)
    except (OSError, ValueError):
        pass  # not computed yet, or a damaged file: compute it again
    outputs = _run_interpreter(runtime, model_path, inputs)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".npy", delete=False) as partial:
        np.save(partial, outputs, allow_pickle=False)
    os.replace(partial.name, cached)  # whole or not at all, also with concurrent runs
    return outputs


def _reference_key(model_path: Path, inputs: np.ndarray) -> str:
    digest = hashlib.sha256(metadata.version("tflite-micro").encode())
    digest.update(model_path.read_bytes())
    digest.update(f"{inputs.dtype.str}{inputs.shape}".encode())
    digest.update(inputs.tobytes())
    return digest.hexdigest()[:32]


def _run_interpreter(runtime, model_path: str | Path, inputs: np.ndarray) -> np.ndarray:
    interpreter = runtime.Interpreter.from_file(str(model_path))
    input_shape = tuple(interpreter.get_input_details(0)["shape"])
    outputs = []
    for row in np.asarray(inputs):
        interpreter.set_input(np.ascontiguousarray(row).reshape(input_shape), 0)
        interpreter.invoke()
        output = np.array(interpreter.get_output(0))
        outputs.append(output[0] if output.ndim > 1 and output.shape[0] == 1 else output)
    return np.stack(outputs)
