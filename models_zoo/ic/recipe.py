"""ic: image classification with the MLPerf Tiny ResNet-8 on 32 x 32 x 3 images.

Data: scikit-learn's handwritten digits (1,797 real 8 x 8 images, 0-16 grey levels, shipped
inside the scikit-learn package), split 80/20 into train and test digits before augmentation.
Each digit is rotated (+-15 degrees), scaled (2.4-3.4 output pixels per source pixel), shifted
(+-3 pixels) and painted in a random colour over a randomly coloured background with banded shading, at
32 x 32 RGB.
Training digits are rendered five times with different draws; test digits once.
"""

from __future__ import annotations

import numpy as np

from models_zoo._common.features import pixels_to_input
from models_zoo._common.images import shaded_background, random_colours, to_uint8, warp
from models_zoo._common.recipe import TOP1, Dataset, Recipe

SIZE = 32
LABELS = [str(d) for d in range(10)]
MIN_CONTRAST = 100.0  # mean |foreground - background| per channel, so every digit stays visible
RENDERINGS = 5  # renderings of each training digit (augmentation)


def _render(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    mask = warp(digit / 16.0, SIZE, angle=np.radians(rng.uniform(-15, 15)), scale=rng.uniform(2.4, 3.4),
                shift=(rng.uniform(-3, 3), rng.uniform(-3, 3)))
    background = shaded_background(rng, SIZE)
    while True:
        ink = random_colours(rng, 1)[0]
        if np.abs(ink - background.mean(axis=(0, 1))).mean() >= MIN_CONTRAST:
            break
    return to_uint8(background * (1 - mask[..., None]) + ink * mask[..., None])


def make_data(quick: bool, rng: np.random.Generator) -> Dataset:
    """All 1,797 digits (quick: 60), 80% for training (5 renderings each), 20% for testing."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = rng.permutation(len(digits.images))[: 60 if quick else None]
    n_train = int(0.8 * len(order))
    train, test = order[:n_train], order[n_train:]
    train = np.repeat(train, 1 if quick else RENDERINGS)
    x_train = np.stack([_render(digits.images[i], rng) for i in train])
    x_test = np.stack([_render(digits.images[i], rng) for i in test])
    return Dataset(pixels_to_input(x_train), digits.target[train], pixels_to_input(x_test), digits.target[test])


def build_model():
    """MLPerf Tiny ResNet-8: a 16-filter stem and three residual stacks (16, 32, 64 filters;
    the last two stride 2 with a 1x1 projection shortcut), average pool, dense 10, softmax."""
    import keras
    from keras import layers

    from models_zoo._common.blocks import BN_MOMENTUM, conv_bn_relu, pooled_classifier

    def conv_bn(x, filters, kernel, strides, name):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                          kernel_regularizer=keras.regularizers.l2(1e-4), name=f"{name}conv")(x)
        return layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}bn")(x)

    inputs = keras.Input((SIZE, SIZE, 3))
    x = conv_bn_relu(inputs, 16, 3, name="stem_")
    for stack, (filters, strides) in enumerate(((16, 1), (32, 2), (64, 2))):
        y = conv_bn_relu(x, filters, 3, strides=strides, name=f"s{stack}a_")
        y = conv_bn(y, filters, 3, 1, name=f"s{stack}b_")
        shortcut = x if strides == 1 else conv_bn(x, filters, 1, strides, name=f"s{stack}proj_")
        x = layers.ReLU(name=f"s{stack}_relu")(layers.Add(name=f"s{stack}_add")([y, shortcut]))
    return keras.Model(inputs, pooled_classifier(x, len(LABELS)), name="resnet8")


RECIPE = Recipe(
    name="ic",
    task="image classification (coloured handwritten digits)",
    architecture="MLPerf Tiny ResNet-8 (16/32/64 filters, three residual stacks)",
    labels=LABELS,
    metric=TOP1,
    quality_target=0.85,
    make_data=make_data,
    build_model=build_model,
    epochs=20,
    batch_size=64,
    learning_rate=3e-3,
    n_vectors=100,
    card={
        "input": {
            "layout": "32 x 32 RGB, height x width x channel",
            "preprocessing": "uint8 pixels p -> (p - 128) / 128; int8 input = p - 128",
        },
        "output": {"meaning": "class probabilities (softmax) for digits 0-9"},
        "target_note": "top-1 accuracy on the test vectors (digits never seen in training, in "
                       "any rendering); MLPerf Tiny's IC target is 85%",
        "data": {
            "provenance": "scikit-learn load_digits() (UCI optical handwritten digits, 8x8), "
                          "upscaled with random rotation, scale and shift, random ink colour over "
                          "a random background colour with banded shading",
        },
    },
)
