"""The tflite-micro interpreter as the bit-exact reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_tflm(model_path: Path, inputs: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """Output 0 of the tflite-micro reference interpreter for every row of `inputs` (an array
    [N, *shape], or one per model input), stacked as [N, *output_shape].

    Inputs are set before every invoke: TFLM's arena planner may reuse their bytes too.
    """
    from tflite_micro.python.tflite_micro import runtime

    arrays = [np.asarray(a) for a in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    interpreter = runtime.Interpreter.from_file(str(model_path))
    outputs = []
    for row in range(arrays[0].shape[0]):
        for index, array in enumerate(arrays):
            interpreter.set_input(np.ascontiguousarray(array[row]), index)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)))
    return np.stack(outputs)
