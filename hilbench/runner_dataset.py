"""Test sets in the layout of MLPerf Tiny's runner, as the benchmark's users already hold them.

The runner (``benchmark/runner`` in mlcommons/tiny) reads a folder per model id::

    DIR/kws01/y_labels.csv     one line per input: file name, number of classes, true class
    DIR/kws01/<file>           the input tensor's raw bytes, as the runner sends them

``y_labels.csv`` has no header. Accuracy on such a set is scored as the runner scores it:
top-1 for the classifiers, ROC AUC of the anomaly score for ``ad01`` (class 1 = anomalous).
Any line or file that does not fit is refused with an error naming the file and the line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hilbench.errors import ConfigError

LABELS_FILE = "y_labels.csv"
ANOMALY_MODEL_IDS = frozenset({"ad01"})


@dataclass(frozen=True)
class RunnerDataset:
    """The inputs (rows of the model's input dtype), their true classes, and the task."""

    x: np.ndarray
    labels: np.ndarray
    task: str
    """classification (top-1) or anomaly (ROC AUC)"""
    folder: Path
    files: tuple[str, ...]


def load_runner_dataset(root: str | Path, model_id: str, input_bytes: int,
                        input_dtype: str) -> RunnerDataset:
    """The test set of ``model_id`` (kws01, vww01, ic01, ad01 or a model's own name) under
    ``root``. Raises ConfigError naming the folder, file and line that is wrong."""
    folder = Path(root) / model_id
    labels_path = folder / LABELS_FILE
    if not Path(root).is_dir():
        raise ConfigError(f"dataset folder {root} does not exist")
    if not labels_path.is_file():
        raise ConfigError(f"{labels_path} does not exist: a dataset in the MLPerf Tiny runner's "
                          f"layout has a folder per model id ({model_id}/) with {LABELS_FILE}")
    anomaly = model_id in ANOMALY_MODEL_IDS
    rows, labels, files = [], [], []
    try:
        text = labels_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{labels_path} is not a text file") from None
    for number, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or not "".join(fields).strip():
            continue
        where = f"{labels_path}, line {number}"
        if len(fields) < 3:
            raise ConfigError(f"{where}: expected 'file,classes,class', got {','.join(fields)!r}")
        name, classes_text, label_text = (field.strip() for field in fields[:3])
        try:
            classes, label = int(classes_text), int(label_text)
        except ValueError:
            raise ConfigError(f"{where}: the number of classes and the class must be whole "
                              f"numbers, got {classes_text!r} and {label_text!r}") from None
        if classes < 1 or not 0 <= label < max(classes, 2 if anomaly else 1):
            raise ConfigError(f"{where}: class {label} is not one of the {classes} classes")
        path = folder / name
        if not name or Path(name).is_absolute() or ".." in Path(name).parts or not path.is_file():
            raise ConfigError(f"{where}: input file '{name}' does not exist in {folder}")
        data = path.read_bytes()
        if len(data) != input_bytes:
            raise ConfigError(f"{where}: input file '{name}' has {len(data)} bytes, the model's "
                              f"input takes {input_bytes}")
        rows.append(np.frombuffer(data, dtype=input_dtype))
        labels.append(label)
        files.append(name)
    if not rows:
        raise ConfigError(f"{labels_path} lists no input files")
    labels_array = np.asarray(labels)
    if anomaly and len(set(labels)) < 2:
        raise ConfigError(f"{labels_path}: an AUC needs normal (0) and anomalous (1) inputs, "
                          f"all {len(labels)} are class {labels[0]}")
    return RunnerDataset(x=np.stack(rows), labels=labels_array,
                         task="anomaly" if anomaly else "classification", folder=folder,
                         files=tuple(files))
