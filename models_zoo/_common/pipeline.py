"""One zoo model end to end: data -> training -> float/int8 .tflite -> test vectors -> card."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hilbench.measure.accuracy import TASK_OF_METRIC, dequantize, model_accuracy
from models_zoo._common import card as card_writer
from models_zoo._common.convert import SUPPORTED_OPS, ops_used, quantize, to_float_tflite, to_int8_tflite
from models_zoo._common.evaluate import io_quantization, run_tflm
from models_zoo._common.recipe import Dataset, Recipe
from models_zoo._common.train import train

CALIBRATION_SAMPLES = 300


class QualityError(RuntimeError):
    """A regenerated model misses its quality target."""


def score(recipe: Recipe, path: Path, model_inputs: np.ndarray, x_float: np.ndarray, y: np.ndarray) -> float:
    """The recipe's metric for the model at ``path``, run on ``model_inputs`` (``x_float`` itself,
    or quantized from it for an int8 model), scored by the function the benchmark scores
    devices with: an autoencoder's reconstruction is compared with ``x_float`` in both cases."""
    _, (output_scale, output_zero_point) = io_quantization(path)
    outputs = run_tflm(path, model_inputs)
    if output_scale:
        outputs = dequantize(outputs, output_scale, output_zero_point)
    return model_accuracy(TASK_OF_METRIC[recipe.metric], x_float, outputs, y)


def pick_vectors(data: Dataset, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices into the test split for the committed vectors, balanced over labels and kept in
    round-robin order over classes, so that any first N vectors cover every class."""
    by_class = [rng.permutation(np.flatnonzero(data.y_test == label)) for label in np.unique(data.y_test)]
    picked: list[int] = []
    depth = 0
    while len(picked) < count and any(depth < len(c) for c in by_class):
        picked += [int(c[depth]) for c in by_class if depth < len(c)]
        depth += 1
    return np.array(picked[:count])


def build(recipe: Recipe, out_dir: Path, quick: bool = False) -> dict:
    """Regenerate one model into ``out_dir`` and return its card. In full mode, raise
    QualityError when the float model misses its target or int8 drops too far."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(recipe.seed)
    data = recipe.make_data(quick, rng)
    epochs = 1 if quick else recipe.epochs
    model = train(recipe, data, epochs, eager=quick)

    float_path, int8_path = out_dir / "float.tflite", out_dir / "int8.tflite"
    float_path.write_bytes(to_float_tflite(model))
    calibration = data.x_train[rng.permutation(len(data.x_train))[:CALIBRATION_SAMPLES]]
    int8_path.write_bytes(to_int8_tflite(model, calibration))

    int8_ops = ops_used(int8_path)
    unsupported = sorted(set(int8_ops) - SUPPORTED_OPS)
    if unsupported:
        raise QualityError(f"{recipe.name}: int8 model uses ops the hilbench runtime lacks: {unsupported}")

    index = pick_vectors(data, min(recipe.n_vectors, len(data.x_test)), rng)
    x, y = data.x_test[index], data.y_test[index]
    input_quant, output_quant = io_quantization(int8_path)
    in_scale, in_zero_point = input_quant
    x_int8 = quantize(x, in_scale, in_zero_point)
    np.savez_compressed(out_dir / "vectors.npz", x=x, x_int8=x_int8, y=y)

    results = measure_results(recipe, data, float_path, int8_path, x, y)
    card = card_writer.make_card(recipe, data, quick, float_path, int8_path, results,
                                 input_quant=input_quant, output_quant=output_quant)
    card_writer.write_card(card, out_dir / "card.yaml")
    if not quick:
        check_quality(recipe, results)
    return card


def measure_results(recipe: Recipe, data: Dataset, float_path: Path, int8_path: Path,
                    x: np.ndarray, y: np.ndarray) -> dict:
    """The card's figures: float and int8 models on the committed vectors (x, y) and on the
    whole held-out split, the int8 model fed the inputs quantized as the vectors' x_int8 is."""
    (in_scale, in_zero_point), _ = io_quantization(int8_path)
    return {
        "vectors": {"count": int(len(x)), "float": score(recipe, float_path, x, x, y),
                    "int8": score(recipe, int8_path, quantize(x, in_scale, in_zero_point), x, y)},
        # The whole held-out split, for a steadier figure than the few committed vectors.
        "test_split": {"count": int(len(data.x_test)),
                       "float": score(recipe, float_path, data.x_test, data.x_test, data.y_test),
                       "int8": score(recipe, int8_path, quantize(data.x_test, in_scale, in_zero_point),
                                     data.x_test, data.y_test)},
    }


def rescore(recipe: Recipe, out_dir: Path) -> dict:
    """Recompute the card of the committed model in ``out_dir`` without training: the data
    comes again from the recipe's seed (the held-out split), the models and vectors are the
    committed files. For a change of how a metric is computed; returns the new card."""
    rng = np.random.default_rng(recipe.seed)
    data = recipe.make_data(False, rng)  # the first draw from the seed, as in build()
    float_path, int8_path = out_dir / "float.tflite", out_dir / "int8.tflite"
    with np.load(out_dir / "vectors.npz") as vectors:
        x, y = vectors["x"], vectors["y"]
    input_quant, output_quant = io_quantization(int8_path)
    results = measure_results(recipe, data, float_path, int8_path, x, y)
    card = card_writer.make_card(recipe, data, False, float_path, int8_path, results,
                                 input_quant=input_quant, output_quant=output_quant)
    card_writer.write_card(card, out_dir / "card.yaml")
    check_quality(recipe, results)
    return card


def check_quality(recipe: Recipe, results: dict) -> None:
    """Raise QualityError naming the figure that misses the zoo's bar."""
    vectors = results["vectors"]
    if vectors["float"] < recipe.quality_target:
        raise QualityError(f"{recipe.name}: float {recipe.metric} {vectors['float']:.4f} is below its "
                           f"target {recipe.quality_target}")
    allowed_drop = 0.01  # one point of top-1, or 0.01 AUC
    if vectors["float"] - vectors["int8"] > allowed_drop + 1e-9:  # 0.89 - 0.88 > 0.01 in floats
        raise QualityError(f"{recipe.name}: int8 {recipe.metric} {vectors['int8']:.4f} is more than "
                           f"{allowed_drop} below float {vectors['float']:.4f}")
