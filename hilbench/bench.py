"""The one pipeline both front ends use: model -> compile -> build -> deploy -> session.

``open_dut(board, model)`` is a context manager that yields a ready :class:`Dut`: the
model compiled to C, firmware built for the board's target, the firmware running (flashed,
emulated or a host process), and a serial session talking to it. The ``hilbench infer``
command and the pytest plugin's ``dut`` fixture both go through it.

This module also finds models by name (:func:`find_model`): a path, a ``models_zoo/``
model, or an MLPerf Tiny reference model kept beside the checkout.
"""

from __future__ import annotations

from pathlib import Path

from hilbench.errors import ModelError
from hilbench.paths import shared_models_root, zoo_root

ZOO_INT8_FILE = "int8.tflite"
ZOO_VECTORS_FILE = "vectors.npz"
# The int8 models of the MLPerf Tiny benchmark, in the order its results tables use.
MLPERF_TINY_INT8 = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")


def zoo_models() -> dict[str, Path]:
    """The zoo's int8 models by name (models_zoo/<name>/int8.tflite)."""
    root = zoo_root()
    if not root.is_dir():
        return {}
    return {entry.name: entry / ZOO_INT8_FILE for entry in sorted(root.iterdir())
            if (entry / ZOO_INT8_FILE).is_file()}


def mlperf_tiny_models() -> dict[str, Path]:
    """The MLPerf Tiny int8 reference models that are present, by name."""
    root = shared_models_root()
    return {name: root / f"{name}.tflite" for name in MLPERF_TINY_INT8
            if (root / f"{name}.tflite").is_file()}


def find_model(name_or_path: str | Path) -> Path:
    """The .tflite file for a path, a zoo model name, or an MLPerf Tiny model name."""
    text = str(name_or_path)
    path = Path(text)
    if path.is_file():
        if path.suffix != ".tflite":
            raise ModelError(f"model file '{path}' is not a .tflite file; "
                             "give a TensorFlow Lite flatbuffer (.tflite)")
        return path.resolve()
    zoo = zoo_models()
    if text in zoo:
        return zoo[text]
    mlperf = mlperf_tiny_models()
    if text in mlperf:
        return mlperf[text]
    if path.suffix == ".tflite" or "/" in text:
        raise ModelError(f"model file '{text}' does not exist")
    raise ModelError(
        f"model '{text}' is neither a file, a zoo model (known: {', '.join(zoo) or 'none'}) nor "
        f"an MLPerf Tiny reference model (known: {', '.join(mlperf) or 'none'}); "
        "give a .tflite path or one of these names")


def default_models() -> list[Path]:
    """The reference benchmark's models: every zoo model, else the MLPerf Tiny int8 models."""
    models = list(zoo_models().values()) or list(mlperf_tiny_models().values())
    if not models:
        raise ModelError(f"no models found: {zoo_root()} has no <name>/{ZOO_INT8_FILE} and "
                         f"{shared_models_root()} has no MLPerf Tiny models; give --model PATH")
    return models


def model_name(path: Path) -> str:
    """The name a model goes by in results: the zoo folder name, else the file's stem."""
    path = Path(path)
    if path.name == ZOO_INT8_FILE:
        return path.parent.name
    return path.stem
