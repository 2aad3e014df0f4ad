"""The committed model zoo: its cards tell the truth about its models and vectors.

Every figure in a card is recomputed here from the committed .tflite files and vectors with the
tflite-micro interpreter, with scoring code written independently of models_zoo/_common.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite_micro.python.tflite_micro import runtime

from hilbench.paths import zoo_root
from hilbench.zoo import ZooModel, format_models_table, get_model, list_models, load_vectors

EXPECTED_MODELS = ("ad", "gesture", "ic", "kws", "vww")
RUNTIME_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
               "RESHAPE", "SOFTMAX", "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "MEAN", "PAD", "CONCATENATION"}
ZOO_BUDGET_BYTES = 5_000_000  # 5 MB, decimal: the stricter reading
OP_NAMES = {code: name for name, code in vars(BuiltinOperator).items() if not name.startswith("_")}


def invoke_all(path: Path, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Raw outputs for every row of x, one invoke each, and the output tensor details."""
    interpreter = runtime.Interpreter.from_file(str(path))
    shape = tuple(interpreter.get_input_details(0)["shape"])
    rows = []
    for row in x:
        interpreter.set_input(row.reshape(shape), 0)
        interpreter.invoke()
        rows.append(interpreter.get_output(0).copy())
    return np.concatenate(rows), interpreter.get_output_details(0)


def as_float(raw: np.ndarray, details: dict) -> np.ndarray:
    scales = details["quantization_parameters"]["scales"]
    if raw.dtype == np.int8:
        return (raw.astype(np.float64) - details["quantization_parameters"]["zero_points"][0]) * scales[0]
    return raw.astype(np.float64)


def pairwise_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """AUC by comparing every anomaly with every normal sample (ties count one half)."""
    pos, neg = scores[positive == 1][:, None], scores[positive == 0][None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def measure(model: ZooModel, path: Path, model_inputs: np.ndarray, x_float: np.ndarray,
            y: np.ndarray) -> float:
    raw, details = invoke_all(path, model_inputs)
    outputs = as_float(raw, details)
    if model.metric == "auc":
        # MLPerf Tiny's ad01 score: the reconstruction against the float input, for the int8
        # model as for the float one.
        x = x_float.astype(np.float64).reshape(len(x_float), -1)
        errors = np.mean((outputs.reshape(len(x), -1) - x) ** 2, axis=1)
        return pairwise_auc(errors, y)
    return float(np.mean(np.argmax(outputs, axis=1) == y))


def file_ops(path: Path) -> list[str]:
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    names = []
    for i in range(graph.OperatorsLength()):
        code = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
        names.append(OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
    return names


@pytest.fixture(scope="module")
def zoo() -> dict[str, ZooModel]:
    return {model.name: model for model in list_models()}


def test_zoo_holds_every_reference_model(zoo):
    assert sorted(zoo) == list(EXPECTED_MODELS)
    for model in zoo.values():
        for path in (model.float_path, model.int8_path, model.vectors_path, model.folder / "recipe.py"):
            assert path.is_file(), f"{path} is missing"
        assert model.card["quick_build"] is False, f"{model.name} was committed from a --quick build"


@pytest.mark.parametrize("name", EXPECTED_MODELS)
def test_int8_model_reproduces_card_on_vectors(zoo, name):
    model = zoo[name]
    vectors = load_vectors(name)
    measured = measure(model, model.int8_path, vectors.x_int8, vectors.x, vectors.y)
    if model.metric == "top1":
        assert measured == model.accuracy_int8
    else:
        assert abs(measured - model.accuracy_int8) <= 1e-6
    assert len(vectors) == model.vector_count


@pytest.mark.parametrize("name", EXPECTED_MODELS)
def test_float_model_reproduces_card_on_vectors(zoo, name):
    model = zoo[name]
    vectors = load_vectors(name)
    measured = measure(model, model.float_path, vectors.x, vectors.x, vectors.y)
    if model.metric == "top1":
        assert measured == model.accuracy_float
    else:
        assert abs(measured - model.accuracy_float) <= 1e-6


@pytest.mark.parametrize("name", EXPECTED_MODELS)
def test_quality_targets_hold(zoo, name):
    model = zoo[name]
    assert model.accuracy_float >= model.quality_target, (
        f"{name}: float {model.metric} {model.accuracy_float} below target {model.quality_target}")
    # One point of top-1, or 0.01 AUC.
    assert model.accuracy_float - model.accuracy_int8 <= 0.01 + 1e-9, (
        f"{name}: int8 {model.accuracy_int8} more than 0.01 below float {model.accuracy_float}")


@pytest.mark.parametrize("name", EXPECTED_MODELS)
def test_int8_model_is_full_integer_with_supported_ops(zoo, name):
    model = zoo[name]
    interpreter = runtime.Interpreter.from_file(str(model.int8_path))
    input_details, output_details = interpreter.get_input_details(0), interpreter.get_output_details(0)
    assert input_details["dtype"] == np.int8 and output_details["dtype"] == np.int8
    assert tuple(input_details["shape"]) == model.input_shape
    ops = file_ops(model.int8_path)
    assert set(ops) <= RUNTIME_OPS, f"{name} uses {sorted(set(ops) - RUNTIME_OPS)}"
    assert list(dict.fromkeys(ops)) == list(model.ops), "card's op list differs from the file"
    assert model.int8_bytes == model.int8_path.stat().st_size
    assert model.float_bytes == model.float_path.stat().st_size


@pytest.mark.parametrize("name", EXPECTED_MODELS)
def test_x_int8_is_x_quantized_with_the_model_input_scale(zoo, name):
    model = zoo[name]
    details = runtime.Interpreter.from_file(str(model.int8_path)).get_input_details(0)
    scale = float(details["quantization_parameters"]["scales"][0])
    zero_point = int(details["quantization_parameters"]["zero_points"][0])
    assert (scale, zero_point) == (model.input_scale, model.input_zero_point)
    vectors = load_vectors(name)
    # As TFLite's QUANTIZE kernel: float32 x / float32 scale, rounded half away from zero. (In
    # float64 some grid values land a hair below .5 and would round the other way.)
    scaled = vectors.x / np.float32(scale)
    assert scaled.dtype == np.float32
    expected = np.clip(np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5)) + zero_point, -128, 127)
    mismatched = np.flatnonzero(expected.astype(np.int8).ravel() != vectors.x_int8.ravel())
    assert len(mismatched) == 0, f"{len(mismatched)} values differ, first at flat index {mismatched[:5]}"
    assert vectors.y.min() >= 0 and vectors.y.max() < len(model.labels)


def test_vectors_cover_every_label_from_the_first_rows(zoo):
    # Vectors come in round-robin class order, so a run over the first N rows is balanced.
    for model in zoo.values():
        y = load_vectors(model.name).y
        every_label = set(range(len(model.labels)))
        assert set(y[:len(every_label)].tolist()) == every_label, f"{model.name}: first rows miss labels"
        counts = np.bincount(y, minlength=len(every_label))
        assert counts.max() - counts.min() <= max(1, len(y) // 10), f"{model.name}: unbalanced {counts}"


def test_whole_zoo_under_five_megabytes():
    files = [p for p in zoo_root().rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    total = sum(p.stat().st_size for p in files)
    assert total < ZOO_BUDGET_BYTES, f"models_zoo/ holds {total} bytes, over the 5 MB budget"


def test_models_table_lists_every_model_with_its_figures(zoo):
    table = format_models_table()
    for model in zoo.values():
        row = next(line for line in table.splitlines() if line.startswith(model.name + " "))
        assert f"{model.accuracy_int8:.4f}" in row and f"{model.accuracy_float:.4f}" in row


def test_unknown_model_error_names_the_known_ones():
    from hilbench.errors import ModelError

    with pytest.raises(ModelError, match=r"'kwz' is not in the zoo \(known: ad, gesture, ic, kws, vww\)"):
        get_model("kwz")
