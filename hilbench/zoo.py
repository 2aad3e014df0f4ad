"""The model zoo: reference models trained by the project itself (models_zoo/).

Each zoo model is a folder holding ``float.tflite``, ``int8.tflite``, ``card.yaml`` (what the
model is, its input, labels, provenance, quality target and measured figures) and
``vectors.npz`` (labelled test vectors: float inputs ``x``, int8 inputs ``x_int8``, labels
``y``). This module reads them; it never imports TensorFlow. The models are rebuilt with
``python -m models_zoo.regenerate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hilbench.errors import ModelError
from hilbench.paths import zoo_root

CARD_FILE = "card.yaml"
FLOAT_FILE = "float.tflite"
INT8_FILE = "int8.tflite"
VECTORS_FILE = "vectors.npz"
METRICS = ("top1", "auc")


def model_name(path: str | Path) -> str:
    """The name a model goes by in results: the zoo folder name, else the file's stem."""
    path = Path(path)
    if path.name == INT8_FILE:
        return path.parent.name
    return path.stem


@dataclass(frozen=True)
class ZooModel:
    """One zoo model as its card describes it. ``accuracy_*`` hold the card's metric (top-1
    fraction, or AUC for anomaly detection) measured on the committed test vectors."""

    name: str
    task: str
    architecture: str
    input_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    labels: tuple[str, ...]
    metric: str
    quality_target: float
    accuracy_float: float
    accuracy_int8: float
    vector_count: int
    ops: tuple[str, ...]
    float_bytes: int
    int8_bytes: int
    folder: Path
    card: dict[str, Any] = field(repr=False, compare=False)

    @property
    def float_path(self) -> Path:
        return self.folder / FLOAT_FILE

    @property
    def int8_path(self) -> Path:
        return self.folder / INT8_FILE

    @property
    def vectors_path(self) -> Path:
        return self.folder / VECTORS_FILE

    @property
    def card_path(self) -> Path:
        return self.folder / CARD_FILE


@dataclass(frozen=True)
class Vectors:
    """Labelled test vectors of one model: ``x`` float32 inputs (rows, *input_shape[1:]),
    ``x_int8`` the same inputs quantized with the int8 model's input scale and zero point,
    ``y`` int64 labels (class index; for anomaly detection 0 normal, 1 anomaly)."""

    x: np.ndarray
    x_int8: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def _require(card: dict, path: Path, *keys: str) -> Any:
    value: Any = card
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            raise ModelError(f"{path}: missing '{'.'.join(keys[:depth + 1])}'; regenerate the card with "
                             f"`python -m models_zoo.regenerate --only {path.parent.name}`")
        value = value[key]
    return value


def read_card(folder: Path) -> ZooModel:
    """Read and check one model folder's card.yaml."""
    path = Path(folder) / CARD_FILE
    try:
        card = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path} does not exist: a zoo model folder needs a card") from None
    except yaml.YAMLError as error:
        raise ModelError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(card, dict):
        raise ModelError(f"{path} must hold a mapping of card fields")
    metric = _require(card, path, "metric")
    if metric not in METRICS:
        raise ModelError(f"{path}: metric '{metric}' is not one of {', '.join(METRICS)}")
    return ZooModel(
        name=str(_require(card, path, "name")),
        task=str(_require(card, path, "task")),
        architecture=str(_require(card, path, "architecture")),
        input_shape=tuple(int(d) for d in _require(card, path, "input", "shape")),
        input_scale=float(_require(card, path, "input", "int8_scale")),
        input_zero_point=int(_require(card, path, "input", "int8_zero_point")),
        labels=tuple(str(label) for label in _require(card, path, "labels")),
        metric=metric,
        quality_target=float(_require(card, path, "quality_target", "float_min")),
        accuracy_float=float(_require(card, path, "results", "vectors", "float")),
        accuracy_int8=float(_require(card, path, "results", "vectors", "int8")),
        vector_count=int(_require(card, path, "results", "vectors", "count")),
        ops=tuple(_require(card, path, "ops", "int8")),
        float_bytes=int(_require(card, path, "sizes", "float_tflite_bytes")),
        int8_bytes=int(_require(card, path, "sizes", "int8_tflite_bytes")),
        folder=Path(folder),
        card=card,
    )


def list_models(root: Path | None = None) -> list[ZooModel]:
    """Every model in the zoo (each sub-folder of ``root`` with a card.yaml), sorted by name."""
    root = Path(root) if root is not None else zoo_root()
    if not root.is_dir():
        raise ModelError(f"model zoo folder {root} does not exist (set HILBENCH_ZOO to the models_zoo/ folder)")
    return [read_card(card.parent) for card in sorted(root.glob(f"*/{CARD_FILE}"))]


def get_model(name: str, root: Path | None = None) -> ZooModel:
    """The zoo model called ``name``."""
    models = list_models(root)
    for model in models:
        if model.name == name:
            return model
    known = ", ".join(m.name for m in models) or "none"
    raise ModelError(f"model '{name}' is not in the zoo (known: {known})")


def load_vectors(name: str, root: Path | None = None) -> Vectors:
    """The committed test vectors of zoo model ``name``, checked against its card."""
    model = get_model(name, root)
    try:
        with np.load(model.vectors_path) as data:
            x, x_int8, y = data["x"], data["x_int8"], data["y"]
    except FileNotFoundError:
        raise ModelError(f"{model.vectors_path} does not exist; regenerate it with "
                         f"`python -m models_zoo.regenerate --only {name}`") from None
    except KeyError as error:
        raise ModelError(f"{model.vectors_path} lacks array {error}: it needs x, x_int8 and y") from None
    sample_shape = model.input_shape[1:]
    problems = []
    if x.dtype != np.float32 or x.shape[1:] != sample_shape:
        problems.append(f"x is {x.dtype}{list(x.shape)}, expected float32[rows, {', '.join(map(str, sample_shape))}]")
    if x_int8.dtype != np.int8 or x_int8.shape != x.shape:
        problems.append(f"x_int8 is {x_int8.dtype}{list(x_int8.shape)}, expected int8 shaped like x")
    if y.ndim != 1 or len(y) != len(x):
        problems.append(f"y has shape {list(y.shape)}, expected one label per row of x ({len(x)})")
    if problems:
        raise ModelError(f"{model.vectors_path}: " + "; ".join(problems))
    return Vectors(x=x, x_int8=x_int8, y=y.astype(np.int64))


def format_models_table(root: Path | None = None) -> str:
    """A plain-text table of the zoo, one model per row (the ``hilbench models`` command)."""
    header = ("model", "task", "input", "metric", "float", "int8", "target", "int8 KB", "ops (int8)")
    rows = [header]
    for model in list_models(root):
        rows.append((
            model.name, model.task, "x".join(map(str, model.input_shape)), model.metric,
            f"{model.accuracy_float:.4f}", f"{model.accuracy_int8:.4f}", f"{model.quality_target:.2f}",
            f"{model.int8_bytes / 1024:.1f}", ", ".join(model.ops),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    note = ("figures: each model's metric on its committed test vectors (vectors.npz), measured "
            "with the tflite-micro interpreter on the host")
    return "\n".join([*lines, "", note])
