"""Host-side references for the device's outputs: the tflite-micro interpreter.

The int8 model run by tflite-micro is what the firmware must match bit for bit
(``bitexact_rate``); the float model run on the same inputs gives ``accuracy_float``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hilbench.errors import MeasurementError


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
    interpreter = runtime.Interpreter.from_file(str(model_path))
    input_shape = tuple(interpreter.get_input_details(0)["shape"])
    outputs = []
    for row in np.asarray(inputs):
        interpreter.set_input(np.ascontiguousarray(row).reshape(input_shape), 0)
        interpreter.invoke()
        output = np.array(interpreter.get_output(0))
        outputs.append(output[0] if output.ndim > 1 and output.shape[0] == 1 else output)
    return np.stack(outputs)
