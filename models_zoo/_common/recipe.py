"""What a zoo model is made of: its data set and its recipe (data generator + architecture)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

TOP1 = "top1"
AUC = "auc"


@dataclass
class Dataset:
    """Train and test splits. For the autoencoder, ``y_train`` is all 0 (normal) and ``y_test``
    is 0 for normal, 1 for anomalous samples."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        self.x_train = np.ascontiguousarray(self.x_train, dtype=np.float32)
        self.x_test = np.ascontiguousarray(self.x_test, dtype=np.float32)
        self.y_train = np.asarray(self.y_train, dtype=np.int64)
        self.y_test = np.asarray(self.y_test, dtype=np.int64)
        if len(self.x_train) != len(self.y_train) or len(self.x_test) != len(self.y_test):
            raise ValueError("every sample needs exactly one label")


@dataclass
class Recipe:
    """Everything the pipeline needs to build one zoo model.

    ``make_data(quick, rng)`` returns a Dataset; ``quick`` asks for a tiny one (smoke runs).
    ``build_model()`` returns an untrained Keras model whose input is one sample (no batch dim
    fixed). ``card`` holds the descriptive fields copied verbatim into card.yaml.
    ``fresh_train_data(rng)``, when given, replaces the training set after each epoch.
    """

    name: str
    task: str
    architecture: str
    labels: list[str]
    metric: str  # TOP1 or AUC
    quality_target: float  # minimum float top-1 (fraction) or AUC on the test vectors
    make_data: Callable[[bool, np.random.Generator], Dataset]
    build_model: Callable[[], Any]
    epochs: int
    batch_size: int
    learning_rate: float
    n_vectors: int
    card: dict[str, Any] = field(default_factory=dict)
    seed: int = 1234
    #: Optional: fresh training samples (x, y) for every epoch after the first, for generators
    #: cheap enough that the model never sees the same sample twice (less overfitting).
    fresh_train_data: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None
