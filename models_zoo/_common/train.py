"""Deterministic Keras training (fixed seeds, deterministic ops, two threads)."""

from __future__ import annotations

import numpy as np

from models_zoo._common.recipe import AUC, Dataset, Recipe


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and ask TensorFlow for deterministic kernels, so that a
    regeneration on the same machine and versions gives the same weights."""
    import keras
    import tensorflow as tf

    # Fresh Keras state: auto-generated layer names (stored in the .tflite) then do not depend
    # on which models were built earlier in the same process.
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:  # the machine is shared: two threads are plenty for these models
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised by an earlier model in the same process
        pass


def train(recipe: Recipe, data: Dataset, epochs: int, eager: bool = False):
    """Build and fit the recipe's model; an autoencoder (AUC metric) learns to reproduce its
    input. The learning rate follows a cosine decay over all steps. ``eager`` skips tracing a
    training graph, which costs more than an epoch on the tiny data of a quick build."""
    import keras

    make_deterministic(recipe.seed)
    model = recipe.build_model()
    steps = epochs * int(np.ceil(len(data.x_train) / recipe.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=max(steps, 1),
                                                      alpha=0.05)
    if recipe.metric == AUC:
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse", run_eagerly=eager)
        target = data.x_train
    else:
        model.compile(optimizer=keras.optimizers.Adam(schedule), run_eagerly=eager,
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        target = data.y_train
    if recipe.fresh_train_data is None:
        model.fit(data.x_train, target, batch_size=recipe.batch_size, epochs=epochs, shuffle=True,
                  verbose=2)
        return model
    # One epoch per fit call; the optimizer (and its learning-rate schedule) carries on.
    rng = np.random.default_rng(recipe.seed + 1)
    x, y = data.x_train, target
    for epoch in range(epochs):
        if epoch:
            x, y = recipe.fresh_train_data(rng)
        print(f"epoch {epoch + 1}/{epochs} ({len(x)} samples)", flush=True)
        model.fit(x, y, batch_size=recipe.batch_size, epochs=1, shuffle=True, verbose=2)
    return model
