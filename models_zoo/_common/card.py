"""card.yaml: what a zoo model is, how its input is made, and what it measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from models_zoo._common.convert import ops_used, parameter_count
from models_zoo._common.recipe import AUC, Dataset, Recipe

CARD_VERSION = 1


def make_card(recipe: Recipe, data: Dataset, quick: bool, float_path: Path, int8_path: Path,
              results: dict, input_quant: tuple[float, int], output_quant: tuple[float, int]) -> dict:
    """The card as plain data (field order is the order in the file)."""
    input_shape = [1, *data.x_train.shape[1:]]
    return {
        "card_version": CARD_VERSION,
        "name": recipe.name,
        "task": recipe.task,
        "architecture": recipe.architecture,
        "quick_build": quick,  # a smoke-test build: tiny data, one epoch, not a usable model
        "input": {
            "shape": [int(d) for d in input_shape],
            "float_dtype": "float32",
            "int8_scale": float(input_quant[0]),
            "int8_zero_point": int(input_quant[1]),
            **recipe.card.get("input", {}),
        },
        "output": {
            "shape": [1, len(recipe.labels)] if recipe.metric != AUC else [int(d) for d in input_shape],
            "int8_scale": float(output_quant[0]),
            "int8_zero_point": int(output_quant[1]),
            **recipe.card.get("output", {}),
        },
        "labels": list(recipe.labels),
        "metric": recipe.metric,
        "quality_target": {
            "float_min": recipe.quality_target,
            "int8_max_drop": 0.01,
            "note": recipe.card.get("target_note", ""),
        },
        "results": results,
        "results_note": "measured with the tflite-micro interpreter, one invoke per sample; "
                        "vectors: the committed vectors.npz; test_split: the whole held-out "
                        "split they were drawn from",
        "data": {
            **recipe.card.get("data", {}),
            "train_samples": int(len(data.x_train)),
            "test_samples": int(len(data.x_test)),
            "seed": recipe.seed,
            "vectors": "vectors.npz: x (float32 inputs), x_int8 (x quantized with the int8 input "
                       "scale and zero point as TFLite's QUANTIZE does: float32 x / scale, "
                       "round half away from zero), y (labels), drawn from the held-out test "
                       "split",
        },
        "training": {
            "epochs": 1 if quick else recipe.epochs,
            "batch_size": recipe.batch_size,
            "optimizer": f"Adam, cosine decay from {recipe.learning_rate}",
            "loss": "mse (reconstruction)" if recipe.metric == AUC else "sparse categorical cross-entropy",
        },
        "sizes": {
            "float_tflite_bytes": float_path.stat().st_size,
            "int8_tflite_bytes": int8_path.stat().st_size,
            "parameters": parameter_count(float_path),
        },
        "ops": {"float": ops_used(float_path), "int8": ops_used(int8_path)},
        "regenerate": f"python -m models_zoo.regenerate --only {recipe.name}",
    }


def _plain(value):
    """NumPy scalars to Python ones, so the YAML stays readable by any loader."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_card(card: dict, path: Path) -> None:
    """Write the card as YAML (floats are written in full so they read back exactly)."""
    path.write_text(yaml.safe_dump(_plain(card), sort_keys=False, width=100))
