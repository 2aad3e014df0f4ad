"""Deterministic Keras training (fixed seeds, deterministic ops, two threads)."""

from __future__ import annotations

import numpy as np

from models_zoo._common.recipe import AUC, Dataset, Recipe


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and ask TensorFlow for deterministic kernels, so that a
    regeneration on the same machine and versions gives the same weights."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:  # the machine is shared: two threads are plenty for these models
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised by an earlier model in the same process
        pass


def train(recipe: Recipe, data: Dataset, epochs: int):
    """Build and fit the recipe's model; an autoencoder (AUC metric) learns to reproduce its
    input. The learning rate follows a cosine decay over all steps."""
    import keras

    make_deterministic(recipe.seed)
    model = recipe.build_model()
    steps = epochs * int(np.ceil(len(data.x_train) / recipe.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=max(steps, 1),
                                                      alpha=0.05)
    if recipe.metric == AUC:
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
        target = data.x_train
    else:
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        target = data.y_train
    model.fit(data.x_train, target, batch_size=recipe.batch_size, epochs=epochs, shuffle=True,
              verbose=2)
    return model
