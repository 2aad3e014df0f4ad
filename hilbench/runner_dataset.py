"""Test sets in the layout of MLPerf Tiny's runner, as the benchmark's users already hold them.

The runner (``benchmark/runner`` in mlcommons/tiny) reads a folder per model id::

    DIR/kws01/y_labels.csv     one line per file: name, number of classes, true class
                               [, bytes_to_send, stride]
    DIR/kws01/<file>           the bytes the runner sends to the DUT

``y_labels.csv`` has no header. Two layouts are in use, and both are read:

- the older runner's: every file is one input, sent whole (``file,classes,class``);
- the newer runner's (``datasets.py`` reads the fields ``file, classes, class,
  bytes_to_send, stride``): for ``ad01`` a file is a long recording, and ``script.py``'s
  download step cuts it into overlapping windows ``data[start:start + bytes_to_send]`` for
  ``start = 0, stride, 2 x stride, ...`` while the window fits, one inference each (accuracy
  mode sends every window). ``main.py``'s ``summarize_result`` then averages a file's window
  results into one score per file and scores the files. Other models' files are sent whole,
  whatever the two extra fields say.

The bytes are what MLPerf Tiny's reference firmware takes on ``db``, which is not always the
model's input tensor (uint8 pixels for vww01 and ic01, float32 features for ad01): they are
turned into the tensor as that firmware does, by hilbench.mlperf_wire's table.

A file (or window) that is exactly the model's input tensor in size is taken as that tensor's
raw bytes, for any model id (a set written from hilbench's own vectors). Accuracy is scored
as the runner scores it: top-1 for the classifiers, ROC AUC of the per-file anomaly score for
``ad01`` (class 1 = anomalous). Any line or file that does not fit is refused with an error
naming the file and the line, before anything is built.

Followed: mlcommons/tiny ``benchmark/runner/datasets.py`` at a054d3b4, ``script.py`` at
09f3bf8a, ``main.py`` at 6b4e30ae, ``benchmark/evaluation/datasets/ad01/y_labels.csv`` at
14602536, and ``th_load_tensor`` in ``benchmark/reference_submissions/*/submitter_implemented.cpp``
(anomaly_detection and person_detection at 154f3bd3, image_classification at bbc1df99).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from hilbench.compile.compiler import TensorSpec
from hilbench.errors import ConfigError
from hilbench.measure.accuracy import dequantize
from hilbench.mlperf_wire import ANOMALY_SCORE, WIRE_FORMATS, wire_format

LABELS_FILE = "y_labels.csv"
# Ids whose firmware prints an anomaly score: scored by ROC AUC unless told otherwise.
ANOMALY_MODEL_IDS = frozenset(model_id for model_id, wire in WIRE_FORMATS.items()
                              if wire.results == ANOMALY_SCORE)


@dataclass(frozen=True)
class RunnerDataset:
    """The inputs, one row per inference (the model's input dtype), and what they score.

    A file of the older layout is one window; a segmented ad01 file of the newer layout is
    several: ``file_of_window`` says which file each window came from, and ``labels`` holds
    one true class per file.
    """

    x: np.ndarray
    x_float: np.ndarray | None
    """The real-valued windows where the files hold them (ad01's float32 features); None when
    the files hold the quantized tensor, whose real values are its dequantization."""
    file_of_window: np.ndarray
    labels: np.ndarray
    task: str
    """classification (top-1) or anomaly (ROC AUC)"""
    folder: Path
    files: tuple[str, ...]

    @property
    def windows_per_file(self) -> np.ndarray:
        return np.bincount(self.file_of_window, minlength=len(self.files))


@dataclass(frozen=True)
class _Decoded:
    x: np.ndarray
    x_float: np.ndarray | None


@dataclass(frozen=True)
class _WindowFormat:
    """What a window of ``size`` bytes holds: values of ``value_bytes`` each, and how the
    reference firmware turns them into the input tensor."""

    size: int
    value_bytes: int
    decode: Callable[[bytes], _Decoded]


def window_formats(model_id: str, spec: TensorSpec) -> dict[int, _WindowFormat]:
    """The window sizes accepted for ``model_id``: what its firmware takes on ``db``
    (hilbench.mlperf_wire), and the raw input tensor (a set written from hilbench's vectors)."""
    itemsize = np.dtype(spec.dtype).itemsize
    formats = {spec.bytes: _WindowFormat(
        spec.bytes, itemsize, lambda data: _Decoded(np.frombuffer(data, dtype=spec.dtype), None))}
    wire = wire_format(model_id)
    if wire.db_is_tensor or spec.dtype not in ("int8", "uint8") or not spec.scale:
        return formats
    size = wire.db_bytes(spec.bytes)
    formats[size] = _WindowFormat(  # pixels replace the raw reading: both are a byte per value
        size, size // spec.bytes, lambda data: _Decoded(*wire.decode(data, spec)))
    return formats


def _whole_number(text: str, what: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{where}: {what} must be a whole number, got {text!r}") from None


def load_runner_dataset(root: str | Path, model_id: str, spec: TensorSpec,
                        task: str | None = None) -> RunnerDataset:
    """The test set of ``model_id`` (kws01, vww01, ic01, ad01 or a model's own name) under
    ``root``, as inputs for a model whose input tensor is ``spec``. ``task`` (classification
    or anomaly) defaults to anomaly for ad01. Raises ConfigError naming the folder, file and
    line that is wrong."""
    root = Path(root)
    folder = root / model_id
    labels_path = folder / LABELS_FILE
    if not root.is_dir():
        raise ConfigError(f"dataset folder {root} does not exist")
    if not labels_path.is_file():
        raise ConfigError(f"{labels_path} does not exist: a dataset in the MLPerf Tiny runner's "
                          f"layout has a folder per model id ({model_id}/) with {LABELS_FILE}")
    anomaly = (task == "anomaly") if task else model_id in ANOMALY_MODEL_IDS
    formats = window_formats(model_id, spec)
    accepted = " or ".join(f"{size} bytes" for size in sorted(formats))
    try:
        text = labels_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{labels_path} is not a text file") from None

    windows: list[_Decoded] = []
    file_of_window, labels, files = [], [], []
    for number, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or not "".join(fields).strip():
            continue
        where = f"{labels_path}, line {number}"
        if len(fields) < 3:
            raise ConfigError(f"{where}: expected 'file,classes,class[,bytes_to_send,stride]', "
                              f"got {','.join(fields)!r}")
        name, classes_text, label_text = (field.strip() for field in fields[:3])
        classes = _whole_number(classes_text, "the number of classes", where)
        label = _whole_number(label_text, "the class", where)
        if classes < 1 or not 0 <= label < max(classes, 2 if anomaly else 1):
            raise ConfigError(f"{where}: class {label} is not one of the {classes} classes")
        segment = [field.strip() for field in fields[3:5] if field.strip()]
        if len(segment) == 1:
            raise ConfigError(f"{where}: bytes_to_send {segment[0]} is given without a stride")
        bytes_to_send, stride = (_whole_number(segment[0], "bytes_to_send", where),
                                 _whole_number(segment[1], "the stride", where)) if segment else (None, None)
        path = folder / name
        if not name or Path(name).is_absolute() or ".." in Path(name).parts or not path.is_file():
            raise ConfigError(f"{where}: input file '{name}' does not exist in {folder}")
        data = path.read_bytes()
        if anomaly and bytes_to_send is not None:
            pieces = _segments(data, bytes_to_send, stride, formats, name, where)
        else:
            if len(data) not in formats:
                raise ConfigError(f"{where}: input file '{name}' has {len(data)} bytes, the "
                                  f"model '{model_id}' takes {accepted}")
            pieces = [data]
        for piece in pieces:
            windows.append(formats[len(piece)].decode(piece))
            file_of_window.append(len(files))
        labels.append(label)
        files.append(name)
    if not files:
        raise ConfigError(f"{labels_path} lists no input files")
    if anomaly and len(set(labels)) < 2:
        raise ConfigError(f"{labels_path}: an AUC needs normal (0) and anomalous (1) inputs, "
                          f"all {len(labels)} are class {labels[0]}")
    x_float = None
    if any(window.x_float is not None for window in windows):
        # Files of both kinds in one set: the raw tensors' real values are their dequantization.
        x_float = np.stack([window.x_float if window.x_float is not None
                            else dequantize(window.x, spec.scale, spec.zero_point)
                            for window in windows])
    return RunnerDataset(x=np.stack([window.x for window in windows]), x_float=x_float,
                         file_of_window=np.asarray(file_of_window), labels=np.asarray(labels),
                         task="anomaly" if anomaly else "classification", folder=folder,
                         files=tuple(files))


def _segments(data: bytes, bytes_to_send: int, stride: int, formats: dict[int, _WindowFormat],
              name: str, where: str) -> list[bytes]:
    """The windows the newer runner sends for one file (script.py's download step): every
    ``data[start:start + bytes_to_send]`` with start = 0, stride, ... while it fits."""
    if bytes_to_send not in formats:
        raise ConfigError(f"{where}: bytes_to_send is {bytes_to_send}, the model's input takes "
                          f"{' or '.join(str(size) for size in sorted(formats))} bytes")
    if bytes_to_send > len(data):
        raise ConfigError(f"{where}: input file '{name}' has {len(data)} bytes, fewer than "
                          f"one window (bytes_to_send {bytes_to_send})")
    value_bytes = formats[bytes_to_send].value_bytes
    if stride < 1 or stride % value_bytes:
        raise ConfigError(f"{where}: stride {stride} does not fit: windows start on a value, so "
                          f"it must be a positive multiple of {value_bytes} byte(s)")
    left_over = (len(data) - bytes_to_send) % stride
    if left_over:
        raise ConfigError(f"{where}: stride {stride} does not fit input file '{name}' "
                          f"({len(data)} bytes): windows of {bytes_to_send} bytes every {stride} "
                          f"bytes leave its last {left_over} bytes out")
    return [data[start:start + bytes_to_send]
            for start in range(0, len(data) - bytes_to_send + 1, stride)]
