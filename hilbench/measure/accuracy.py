"""Accuracy of the device's outputs, of the float model, their delta, and bit-exactness.

Two task kinds, as in MLPerf Tiny:

- ``classification``: top-1 accuracy. Raw int8 outputs can be used as they are, because
  dequantization with a positive scale keeps the order of the scores.
- ``anomaly``: ROC AUC of anomaly scores (higher = more anomalous) against binary labels
  (1 = anomaly). The AUC is the Mann-Whitney U statistic divided by (positives x negatives);
  tied scores get mid-ranks, i.e. a tie between a positive and a negative counts one half.
  An autoencoder's anomaly score is its reconstruction error against the *float* input, for
  the float and the int8 model alike (:func:`task_scores`; docs/measurements.md says why).

``accuracy_delta = accuracy (device) - accuracy_float``; ``bitexact_rate`` is the share of
output tensors whose bytes equal the reference int8 interpreter's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from hilbench.errors import MeasurementError

TASKS = ("classification", "anomaly")
# A zoo card's metric -> the task it is scored as.
TASK_OF_METRIC = {"top1": "classification", "auc": "anomaly"}


@dataclass(frozen=True)
class AccuracyResult:
    """Accuracy figures of one run; ``metric`` says what ``accuracy`` means."""

    task: str
    metric: str  # "top1" | "roc_auc"
    samples: int
    accuracy: float
    accuracy_float: float | None
    accuracy_delta: float | None
    bitexact_rate: float | None

    def as_dict(self) -> dict:
        """All fields as a plain dict."""
        return asdict(self)

    def result_columns(self) -> dict:
        """The fields that fill leaderboard columns."""
        return {
            "accuracy": self.accuracy,
            "accuracy_float": self.accuracy_float,
            "accuracy_delta": self.accuracy_delta,
            "bitexact_rate": self.bitexact_rate,
        }


def dequantize(raw: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Real values of quantized tensor data: (raw - zero_point) x scale."""
    if not scale > 0:
        raise MeasurementError(f"quantization scale must be > 0, got {scale!r}")
    return (np.asarray(raw).astype(np.float64) - zero_point) * scale


def _class_indices(labels: np.ndarray, samples: int, classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2:  # one-hot
        if labels.shape != (samples, classes):
            raise MeasurementError(
                f"one-hot labels have shape {labels.shape}, outputs need ({samples}, {classes})")
        return labels.argmax(axis=1)
    if labels.shape != (samples,):
        raise MeasurementError(
            f"labels have shape {labels.shape}, expected ({samples},) class indices "
            f"or ({samples}, {classes}) one-hot")
    if not np.issubdtype(labels.dtype, np.integer):
        raise MeasurementError(f"class labels must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise MeasurementError(
            f"class labels must be in [0, {classes}), got range [{labels.min()}, {labels.max()}]")
    return labels


def top1_accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Share of samples whose highest-scoring class equals the label.

    ``outputs``: (samples, classes) scores, raw quantized or dequantized (a trailing
    singleton batch axis, as in (samples, 1, classes), is accepted). ``labels``: (samples,)
    class indices or (samples, classes) one-hot.
    """
    scores = np.asarray(outputs)
    if scores.ndim == 3 and scores.shape[1] == 1:
        scores = scores[:, 0, :]
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise MeasurementError(
            f"classifier outputs must have shape (samples, classes), got {scores.shape}")
    truth = _class_indices(labels, scores.shape[0], scores.shape[1])
    return float(np.mean(scores.argmax(axis=1) == truth))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of anomaly ``scores`` for binary ``labels`` (1 = anomaly).

    Computed as the Mann-Whitney U statistic with mid-ranks for ties.
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    truth = np.asarray(labels).ravel()
    if values.shape != truth.shape:
        raise MeasurementError(f"{values.size} anomaly scores but {truth.size} labels")
    if not np.all(np.isin(truth, (0, 1))):
        raise MeasurementError("anomaly labels must be 0 (normal) or 1 (anomaly)")
    if np.any(~np.isfinite(values)):
        raise MeasurementError("anomaly scores contain NaN or infinity")
    positives = int(np.count_nonzero(truth == 1))
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        raise MeasurementError(
            f"ROC AUC needs both normal and anomalous samples (got {positives} anomalous, "
            f"{negatives} normal)")
    # Mid-ranks: every member of a group of tied scores gets the mean of the group's ranks.
    unique_scores, group_of, group_sizes = np.unique(values, return_inverse=True, return_counts=True)
    group_last_rank = np.cumsum(group_sizes)
    group_mid_rank = group_last_rank - (group_sizes - 1) / 2.0
    ranks = group_mid_rank[group_of]
    u_statistic = ranks[truth == 1].sum() - positives * (positives + 1) / 2.0
    return float(u_statistic / (positives * negatives))


def reconstruction_error(inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Per-sample mean squared error between an autoencoder's inputs and outputs, in float64.

    This is MLPerf Tiny's anomaly score for the ToyADMOS autoencoder; pass real (dequantized)
    values for both.
    """
    x = np.asarray(inputs, dtype=np.float64)
    y = np.asarray(outputs, dtype=np.float64)
    if x.shape[0] != y.shape[0] or x[0].size != y[0].size:
        raise MeasurementError(
            f"autoencoder inputs {x.shape} and outputs {y.shape} do not match sample for sample")
    return np.mean((x.reshape(x.shape[0], -1) - y.reshape(y.shape[0], -1)) ** 2, axis=1)


def task_scores(task: str, float_inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """What a task's figure is computed from, for a model's real-valued (dequantized) outputs.

    ``classification``: the class scores themselves. ``anomaly``: the reconstruction error
    against ``float_inputs``, the real-valued test inputs before any quantization: the float
    model and the int8 model (whose input was quantized from them) are scored against the
    same signal, as MLPerf Tiny's ad01 reference firmware and training scripts do. Every
    scorer (the benchmark, the cloud side, the zoo's model cards) calls this one function.
    """
    if task not in TASKS:
        raise MeasurementError(f"task {task!r} is not known (known: {', '.join(TASKS)})")
    if task == "anomaly":
        return reconstruction_error(float_inputs, outputs)
    return np.asarray(outputs)


def model_accuracy(task: str, float_inputs: np.ndarray, outputs: np.ndarray,
                   labels: np.ndarray) -> float:
    """Top-1 accuracy or ROC AUC of one model's real-valued outputs on the test inputs
    ``float_inputs`` (see :func:`task_scores`)."""
    return _score(task, task_scores(task, float_inputs, outputs), labels)


def bitexact_rate(device_outputs: Sequence[np.ndarray] | np.ndarray,
                  reference_outputs: Sequence[np.ndarray] | np.ndarray) -> float:
    """Share of output tensors whose bytes equal the reference interpreter's.

    Both arguments list one output tensor per sample (or are arrays whose first axis is the
    sample axis). dtypes and shapes must match: comparing an int8 tensor to a float one is a
    caller error, not a mismatch.
    """
    if len(device_outputs) != len(reference_outputs):
        raise MeasurementError(
            f"{len(device_outputs)} device output tensors but {len(reference_outputs)} "
            "reference output tensors")
    if len(device_outputs) == 0:
        raise MeasurementError("no output tensors to compare")
    identical = 0
    for index, (device, reference) in enumerate(zip(device_outputs, reference_outputs)):
        device, reference = np.asarray(device), np.asarray(reference)
        if device.dtype != reference.dtype or device.size != reference.size:
            raise MeasurementError(
                f"output tensor {index}: device has {device.dtype} x {device.size}, reference "
                f"has {reference.dtype} x {reference.size}; compare raw tensors of the same type")
        identical += device.tobytes() == reference.tobytes()
    return identical / len(device_outputs)


def _score(task: str, outputs: np.ndarray, labels: np.ndarray) -> float:
    if task == "classification":
        return top1_accuracy(outputs, labels)
    return roc_auc(outputs, labels)


def evaluate_accuracy(task: str, device_outputs: np.ndarray, labels: np.ndarray,
                      float_outputs: np.ndarray | None = None,
                      device_raw_outputs: Sequence[np.ndarray] | np.ndarray | None = None,
                      reference_raw_outputs: Sequence[np.ndarray] | np.ndarray | None = None,
                      ) -> AccuracyResult:
    """Accuracy of the device and (optionally) of the float model, and bit-exactness.

    For ``classification`` the outputs are class scores; for ``anomaly`` they are per-sample
    anomaly scores (see :func:`reconstruction_error`). ``bitexact_rate`` is computed when
    both raw output lists are given.
    """
    if task not in TASKS:
        raise MeasurementError(f"task {task!r} is not known (known: {', '.join(TASKS)})")
    accuracy = _score(task, device_outputs, labels)
    accuracy_float = None if float_outputs is None else _score(task, float_outputs, labels)
    bitexact = None
    if (device_raw_outputs is None) != (reference_raw_outputs is None):
        raise MeasurementError(
            "bit-exactness needs both the device's raw outputs and the reference interpreter's")
    if device_raw_outputs is not None:
        bitexact = bitexact_rate(device_raw_outputs, reference_raw_outputs)
    return AccuracyResult(
        task=task,
        metric="top1" if task == "classification" else "roc_auc",
        samples=int(np.asarray(labels).shape[0]),
        accuracy=accuracy,
        accuracy_float=accuracy_float,
        accuracy_delta=None if accuracy_float is None else accuracy - accuracy_float,
        bitexact_rate=bitexact,
    )
