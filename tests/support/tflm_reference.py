"""The tflite-micro interpreter as the bit-exact reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_tflm(model_path: Path, inputs: np.ndarray) -> np.ndarray:
    """Outputs of the tflite-micro reference interpreter for every row of `inputs`.

    The input is set before every invoke: TFLM's arena planner may reuse its bytes too.
    """
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(model_path))
    outputs = []
    for row in inputs:
        interpreter.set_input(np.ascontiguousarray(row)[None, ...].reshape(
            interpreter.get_input_details(0)["shape"]), 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)))
    return np.stack(outputs)
