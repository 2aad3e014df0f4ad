"""Accuracy figures: top-1, ROC AUC (Mann-Whitney with ties), delta vs float, bit-exactness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hilbench.errors import MeasurementError
from hilbench.measure.accuracy import (bitexact_rate, dequantize, evaluate_accuracy,
                                       model_accuracy, reconstruction_error, roc_auc,
                                       task_scores, top1_accuracy)


def pairwise_auc(scores, labels) -> float:
    """Definition of the AUC: P(score of an anomaly > score of a normal), ties count 1/2."""
    positives = [s for s, y in zip(scores, labels) if y == 1]
    negatives = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p, n in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


def test_top1_on_raw_and_dequantized_outputs_agree():
    raw = np.array([[-128, 100, -20], [5, -3, 6], [127, 126, -128], [0, 0, 1]], dtype=np.int8)
    labels = np.array([1, 0, 0, 2])
    assert top1_accuracy(raw, labels) == 0.75
    assert top1_accuracy(dequantize(raw, 0.00390625, -128), labels) == 0.75
    one_hot = np.eye(3, dtype=np.int64)[labels]
    assert top1_accuracy(raw, one_hot) == 0.75
    assert top1_accuracy(raw[:, None, :], labels) == 0.75  # (samples, 1, classes) from a batch axis


def test_top1_refuses_mismatched_labels():
    with pytest.raises(MeasurementError, match=r"labels have shape \(3,\), expected \(2,\)"):
        top1_accuracy(np.zeros((2, 4)), np.array([0, 1, 2]))
    with pytest.raises(MeasurementError, match=r"class labels must be in \[0, 4\)"):
        top1_accuracy(np.zeros((2, 4)), np.array([0, 4]))


def test_roc_auc_known_cases():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5
    # One tie between an anomaly and a normal clip counts one half: (3 + 0.5) / 4.
    assert roc_auc([0.1, 0.4, 0.4, 0.9], [0, 0, 1, 1]) == pytest.approx(3.5 / 4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1)), min_size=2, max_size=60)
       .filter(lambda pairs: len({y for _, y in pairs}) == 2))
def test_roc_auc_equals_the_pairwise_definition_with_ties(pairs):
    scores = [float(s) for s, _ in pairs]  # small integer range: many ties
    labels = [y for _, y in pairs]
    assert roc_auc(scores, labels) == pytest.approx(pairwise_auc(scores, labels), abs=1e-12)


def test_roc_auc_refuses_one_class_and_bad_labels():
    with pytest.raises(MeasurementError, match="both normal and anomalous"):
        roc_auc([0.1, 0.2], [1, 1])
    with pytest.raises(MeasurementError, match="must be 0 .* or 1"):
        roc_auc([0.1, 0.2], [0, 2])
    with pytest.raises(MeasurementError, match="3 anomaly scores but 2 labels"):
        roc_auc([0.1, 0.2, 0.3], [0, 1])


def test_reconstruction_error_is_mean_squared_error_per_sample():
    inputs = np.array([[1.0, 2.0], [0.0, 0.0]])
    outputs = np.array([[1.0, 4.0], [3.0, -1.0]])
    assert reconstruction_error(inputs, outputs).tolist() == [2.0, 5.0]


def test_anomaly_score_is_reconstruction_error_against_the_float_input():
    """By hand: errors 0, 0, 1 and (4 + 4) / 2 = 4; anomalies score 0 and 4, normals 0 and 1:
    of the four (anomaly, normal) pairs, one ties (1/2) and two are ordered right, so 2.5 / 4."""
    x_float = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 4.0]])
    reconstruction = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    labels = np.array([0, 1, 0, 1])
    assert task_scores("anomaly", x_float, reconstruction).tolist() == [0.0, 0.0, 1.0, 4.0]
    assert model_accuracy("anomaly", x_float, reconstruction, labels) == 0.625
    # An int8 model saw x quantized (scale 1: 0.2 -> 0, 0.9 -> 1) and reconstructed exactly what
    # it saw; it is still scored against the float input, so its rounding counts as error.
    x_float = np.array([[0.2], [0.9]])
    seen = np.array([[0.0], [1.0]])
    assert task_scores("anomaly", x_float, seen) == pytest.approx([0.04, 0.01])
    # Classifiers are scored on their outputs; the inputs play no part.
    scores = np.array([[0.9, 0.1], [0.3, 0.7]])
    assert task_scores("classification", x_float, scores) is scores
    assert model_accuracy("classification", x_float, scores, np.array([0, 0])) == 0.5
    with pytest.raises(MeasurementError, match="task 'regression' is not known"):
        task_scores("regression", x_float, scores)


def test_bitexact_rate_counts_identical_tensors():
    reference = [np.array([1, 2, 3], np.int8), np.array([4, 5, 6], np.int8),
                 np.array([7, 8, 9], np.int8), np.array([0, 0, 0], np.int8)]
    device = [t.copy() for t in reference]
    device[2][1] = 9  # one LSB off in one tensor
    assert bitexact_rate(device, reference) == 0.75
    assert bitexact_rate(np.stack(reference), np.stack(reference)) == 1.0
    with pytest.raises(MeasurementError, match="device has float32 x 3, reference has int8 x 3"):
        bitexact_rate([reference[0].astype(np.float32)], [reference[0]])
    with pytest.raises(MeasurementError, match="2 device output tensors but 4"):
        bitexact_rate(device[:2], reference)


def test_evaluate_accuracy_reports_delta_against_float():
    labels = np.array([0, 1, 1, 0, 1])
    device = np.array([[9, 1], [1, 9], [9, 1], [9, 1], [1, 9]])  # 4 of 5 right
    float_outputs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])  # 5 of 5
    result = evaluate_accuracy("classification", device, labels, float_outputs=float_outputs,
                               device_raw_outputs=device.astype(np.int8),
                               reference_raw_outputs=device.astype(np.int8))
    assert (result.metric, result.samples) == ("top1", 5)
    assert result.accuracy == pytest.approx(0.8)
    assert result.accuracy_float == pytest.approx(1.0)
    assert result.accuracy_delta == pytest.approx(-0.2)
    assert result.bitexact_rate == 1.0
    assert set(result.result_columns()) == {"accuracy", "accuracy_float", "accuracy_delta", "bitexact_rate"}

    anomaly = evaluate_accuracy("anomaly", np.array([0.1, 0.9, 0.3, 0.7]), np.array([0, 1, 0, 1]))
    assert (anomaly.metric, anomaly.accuracy, anomaly.accuracy_delta) == ("roc_auc", 1.0, None)
    with pytest.raises(MeasurementError, match="task 'regression' is not known"):
        evaluate_accuracy("regression", device, labels)
    with pytest.raises(MeasurementError, match="needs both"):
        evaluate_accuracy("classification", device, labels, device_raw_outputs=device)


def test_real_model_outputs_from_the_reference_interpreter(mlperf_tiny):
    """Outputs of the MLPerf Tiny KWS int8 model: top-1 is the same on raw and dequantized
    tensors, and one changed output byte shows up in the bit-exact rate."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(mlperf_tiny("kws_ref_model")))
    details = interpreter.get_output_details(0)
    scale = float(details["quantization_parameters"]["scales"][0])
    zero_point = int(details["quantization_parameters"]["zero_points"][0])
    rng = np.random.default_rng(3)
    outputs = []
    for _ in range(16):
        interpreter.set_input(rng.integers(-128, 128, (1, 49, 10, 1), dtype=np.int8), 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).copy())
    raw = np.stack(outputs)[:, 0, :]
    labels = raw.argmax(axis=1)
    labels[:4] = (labels[:4] + 1) % raw.shape[1]  # 4 of 16 wrong
    assert top1_accuracy(raw, labels) == 0.75
    assert top1_accuracy(dequantize(raw, scale, zero_point), labels) == 0.75
    device = [o.copy() for o in outputs]
    device[5].flat[0] = np.int8(device[5].flat[0] ^ 1)
    assert bitexact_rate(device, outputs) == 15 / 16
