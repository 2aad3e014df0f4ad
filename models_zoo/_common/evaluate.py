"""Run .tflite models with the tflite-micro interpreter (the int8 reference hilbench's firmware
must match). Top-1 accuracy and ROC AUC come from hilbench.measure.accuracy, the code that scores
devices, so a card's figure and a benchmark's figure are computed the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tensor_quantization(details: dict) -> tuple[float, int]:
    """(scale, zero_point) of an interpreter's input or output details; (0, 0) for float."""
    params = details["quantization_parameters"]
    if len(params["scales"]) == 0:
        return 0.0, 0
    return float(params["scales"][0]), int(params["zero_points"][0])


def run_tflm(path: Path, x: np.ndarray) -> np.ndarray:
    """Raw output tensor for every row of ``x`` (in the model's own input dtype), one invoke
    per row, as the firmware does. Returns an array of shape (rows, *output_shape[1:]).

    The same reference the benchmark uses (hilbench.measure.reference), so that a card's
    figures and the suite's accuracy_float come from one piece of code.
    """
    from hilbench.measure.reference import interpreter_outputs

    return interpreter_outputs(path, x)


def io_quantization(path: Path) -> tuple[tuple[float, int], tuple[float, int]]:
    """((input scale, zero point), (output scale, zero point)) of a model; (0.0, 0) for float."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(path))
    return (tensor_quantization(interpreter.get_input_details(0)),
            tensor_quantization(interpreter.get_output_details(0)))
