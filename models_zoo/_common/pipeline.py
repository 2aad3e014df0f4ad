"""One zoo model end to end: data -> training -> float/int8 .tflite -> test vectors -> card."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models_zoo._common import card as card_writer
from models_zoo._common.convert import SUPPORTED_OPS, ops_used, quantize, to_float_tflite, to_int8_tflite
from models_zoo._common.evaluate import (dequantize_outputs, reconstruction_error, roc_auc, run_tflm,
                                         tensor_quantization, top1_accuracy)
from models_zoo._common.recipe import AUC, Dataset, Recipe
from models_zoo._common.train import train

CALIBRATION_SAMPLES = 300


class QualityError(RuntimeError):
    """A regenerated model misses its quality target."""


def score(recipe: Recipe, path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """The recipe's metric for the model at ``path`` on inputs ``x`` (already in the model's
    input dtype): top-1 accuracy, or reconstruction-error AUC against the float inputs."""
    outputs = dequantize_outputs(path, run_tflm(path, x))
    if recipe.metric == AUC:
        reference = x if x.dtype == np.float32 else _dequantize_inputs(path, x)
        return roc_auc(reconstruction_error(reference, outputs), y)
    return top1_accuracy(outputs, y)


def _dequantize_inputs(path: Path, x_int8: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    scale, zero_point = tensor_quantization(runtime.Interpreter.from_file(str(path)).get_input_details(0))
    return (x_int8.astype(np.float32) - zero_point) * scale


def pick_vectors(recipe: Recipe, data: Dataset, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices into the test split for the committed vectors, balanced over labels (round robin
    over classes in a seeded order) so that every class is represented."""
    by_class = [rng.permutation(np.flatnonzero(data.y_test == label)) for label in np.unique(data.y_test)]
    picked: list[int] = []
    depth = 0
    while len(picked) < count and any(depth < len(c) for c in by_class):
        picked += [int(c[depth]) for c in by_class if depth < len(c)]
        depth += 1
    return np.sort(np.array(picked[:count]))


def input_quantization(int8_path: Path) -> tuple[float, int]:
    """(scale, zero_point) of an int8 model's input tensor."""
    from tflite_micro.python.tflite_micro import runtime

    return tensor_quantization(runtime.Interpreter.from_file(str(int8_path)).get_input_details(0))


def output_quantization(int8_path: Path) -> tuple[float, int]:
    """(scale, zero_point) of an int8 model's output tensor."""
    from tflite_micro.python.tflite_micro import runtime

    return tensor_quantization(runtime.Interpreter.from_file(str(int8_path)).get_output_details(0))


def build(recipe: Recipe, out_dir: Path, quick: bool = False) -> dict:
    """Regenerate one model into ``out_dir`` and return its card. In full mode, raise
    QualityError when the float model misses its target or int8 drops too far."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(recipe.seed)
    data = recipe.make_data(quick, rng)
    epochs = 1 if quick else recipe.epochs
    model = train(recipe, data, epochs)

    float_path, int8_path = out_dir / "float.tflite", out_dir / "int8.tflite"
    float_path.write_bytes(to_float_tflite(model))
    calibration = data.x_train[rng.permutation(len(data.x_train))[:CALIBRATION_SAMPLES]]
    int8_path.write_bytes(to_int8_tflite(model, calibration))

    int8_ops = ops_used(int8_path)
    unsupported = sorted(set(int8_ops) - SUPPORTED_OPS)
    if unsupported:
        raise QualityError(f"{recipe.name}: int8 model uses ops the hilbench runtime lacks: {unsupported}")

    index = pick_vectors(recipe, data, min(recipe.n_vectors, len(data.x_test)), rng)
    x, y = data.x_test[index], data.y_test[index]
    in_scale, in_zero_point = input_quantization(int8_path)
    x_int8 = quantize(x, in_scale, in_zero_point)
    np.savez_compressed(out_dir / "vectors.npz", x=x, x_int8=x_int8, y=y)

    results = {
        "vectors": {"count": int(len(x)), "float": score(recipe, float_path, x, y),
                    "int8": score(recipe, int8_path, x_int8, y)},
    }
    card = card_writer.make_card(recipe, data, quick, float_path, int8_path, results,
                                 input_quant=(in_scale, in_zero_point),
                                 output_quant=output_quantization(int8_path))
    card_writer.write_card(card, out_dir / "card.yaml")
    if not quick:
        check_quality(recipe, results)
    return card


def check_quality(recipe: Recipe, results: dict) -> None:
    """Raise QualityError naming the figure that misses the zoo's bar."""
    vectors = results["vectors"]
    if vectors["float"] < recipe.quality_target:
        raise QualityError(f"{recipe.name}: float {recipe.metric} {vectors['float']:.4f} is below its "
                           f"target {recipe.quality_target}")
    allowed_drop = 0.01  # one point of top-1, or 0.01 AUC
    if vectors["float"] - vectors["int8"] > allowed_drop:
        raise QualityError(f"{recipe.name}: int8 {recipe.metric} {vectors['int8']:.4f} is more than "
                           f"{allowed_drop} below float {vectors['float']:.4f}")
