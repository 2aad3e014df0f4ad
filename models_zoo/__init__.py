"""Reference models that hilbench trains itself, from data it generates or that a package ships.

Each model lives in its own folder (``kws``, ``ic``, ``vww``, ``ad``, ``gesture``) with
``float.tflite``, ``int8.tflite``, ``card.yaml``, ``vectors.npz`` and ``recipe.py`` (its data
generator and architecture). ``python -m models_zoo.regenerate`` rebuilds them all; the shared
data, feature, training, conversion and evaluation code is in ``models_zoo._common``.
"""
