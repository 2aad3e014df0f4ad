"""vww: visual wake words ("is a person in view?") with MobileNetV1 alpha 0.25 at 96 x 96 x 3.

Data: scenes drawn here. Every scene has a two-tone background (wall/sky over floor/ground, a
random horizon, banded shading) and 2-7 distractor objects: discs, boxes, bars, triangles and
ellipses in random colours and sizes, some of them head-sized discs or torso-sized boxes. Half
of the scenes also hold one stick-figure person (head, torso, two arms, two legs, with random
skin, shirt and trouser colours, height 32-84 pixels, standing anywhere, leaning a little),
drawn in front of the distractors or, one time in four, behind one of them (partly hidden).
Label 1 = person present. Train and test scenes come from disjoint random streams; every
training epoch draws 4,000 new scenes.
"""

from __future__ import annotations

import numpy as np

from models_zoo._common.blocks import conv_bn_relu, depthwise_separable, pooled_classifier
from models_zoo._common.features import pixels_to_input
from models_zoo._common.images import random_colours, to_uint8
from models_zoo._common.recipe import TOP1, Dataset, Recipe

SIZE = 96
LABELS = ["no_person", "person"]
TRAIN_SCENES = 4000  # per epoch
MIN_HEIGHT = 32  # pixels: the smallest person covers roughly 2% of the image
YY, XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)


def _disc(cx, cy, r):
    return (XX - cx) ** 2 + (YY - cy) ** 2 <= r ** 2


def _ellipse(cx, cy, rx, ry):
    return ((XX - cx) / rx) ** 2 + ((YY - cy) / ry) ** 2 <= 1


def _box(x0, y0, x1, y1):
    return (XX >= min(x0, x1)) & (XX <= max(x0, x1)) & (YY >= min(y0, y1)) & (YY <= max(y0, y1))


def _bar(x0, y0, x1, y1, half_width):
    """Pixels within ``half_width`` of the segment (x0, y0)-(x1, y1): a limb or a stick."""
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((XX - x0) * dx + (YY - y0) * dy) / (dx * dx + dy * dy + 1e-9), 0, 1)
    return (XX - x0 - t * dx) ** 2 + (YY - y0 - t * dy) ** 2 <= half_width ** 2


def _triangle(rng):
    pts = rng.uniform(0, SIZE, (3, 2))
    signs = []
    for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, axis=0)):
        signs.append((bx - ax) * (YY - ay) - (by - ay) * (XX - ax) >= 0)
    return (signs[0] & signs[1] & signs[2]) | (~signs[0] & ~signs[1] & ~signs[2])


def _background(rng):
    top, bottom = random_colours(rng, 2)
    horizon = rng.uniform(20, 80)
    shade = np.floor(np.clip(YY / SIZE + rng.uniform(-0.2, 0.2), 0, 0.999) * 3)[..., None] * rng.uniform(-20, 20)
    return np.where((YY < horizon)[..., None], top, bottom) + shade


def _distractor(rng):
    """A random non-person object mask; head-sized discs and torso-sized boxes included."""
    kind = rng.integers(6)
    cx, cy = rng.uniform(0, SIZE, 2)
    if kind == 0:
        return _disc(cx, cy, rng.uniform(3, 20))
    if kind == 1:
        w, h = rng.uniform(6, 50, 2)
        return _box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if kind == 2:
        x1, y1 = rng.uniform(0, SIZE, 2)
        return _bar(cx, cy, x1, y1, rng.uniform(1, 4))
    if kind == 3:
        return _triangle(rng)
    if kind == 4:
        return _ellipse(cx, cy, rng.uniform(4, 25), rng.uniform(4, 25))
    # a stool or table: a box on two legs, person-like in outline but not a person
    w, h = rng.uniform(12, 30), rng.uniform(4, 10)
    legs = _bar(cx - w / 3, cy, cx - w / 3, cy + rng.uniform(8, 25), 1.5)
    legs |= _bar(cx + w / 3, cy, cx + w / 3, cy + rng.uniform(8, 25), 1.5)
    return _box(cx - w / 2, cy - h, cx + w / 2, cy) | legs


def _person(rng) -> list[tuple[np.ndarray, str]]:
    """Masks of one stick-figure person, with which colour each part takes."""
    height = rng.uniform(MIN_HEIGHT, 84)
    cx = rng.uniform(0.1, 0.9) * SIZE
    feet = rng.uniform(height * 0.9, SIZE + height * 0.1)  # may be cut at the bottom edge
    top = feet - height
    lean = rng.uniform(-0.15, 0.15) * height
    head_r = height * rng.uniform(0.09, 0.12)
    neck_y = top + 2 * head_r
    hip_y = neck_y + height * 0.36
    half = max(height * 0.045, 1.5)  # limb half-width
    torso = _bar(cx + lean, neck_y + head_r * 0.3, cx + lean * 0.5, hip_y, height * rng.uniform(0.10, 0.14))
    head = _disc(cx + lean * 1.1, top + head_r, head_r)
    arms = np.zeros_like(head)
    for side in (-1, 1):
        hand = (cx + lean + side * height * rng.uniform(0.15, 0.35), neck_y + height * rng.uniform(0.05, 0.4))
        arms |= _bar(cx + lean, neck_y + half * 2, *hand, half)
    legs = np.zeros_like(head)
    for side in (-1, 1):
        legs |= _bar(cx + lean * 0.5, hip_y, cx + side * height * rng.uniform(0.05, 0.18), feet, half * 1.4)
    return [(legs, "trousers"), (arms, "skin"), (torso, "shirt"), (head, "skin")]


def _scene(rng, with_person: bool) -> np.ndarray:
    image = _background(rng)
    distractors = [(_distractor(rng), random_colours(rng, 1)[0]) for _ in range(rng.integers(2, 8))]
    layers = list(distractors)
    if with_person:
        skin = np.array([rng.uniform(90, 255), rng.uniform(60, 200), rng.uniform(40, 170)])
        colours = {"skin": skin, "shirt": random_colours(rng, 1)[0], "trousers": random_colours(rng, 1)[0]}
        person = [(mask, colours[part]) for mask, part in _person(rng)]
        # in front of every distractor, or sometimes behind the last one (partly hidden)
        behind = 1 if rng.random() < 0.25 else 0
        layers = layers[:len(layers) - behind] + person + layers[len(layers) - behind:]
    for mask, colour in layers:
        image[mask] = colour
    return to_uint8(image)


def _scenes(rng, count: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(count) % 2
    return np.stack([_scene(rng, bool(label)) for label in labels]), labels


def make_data(quick: bool, rng: np.random.Generator) -> Dataset:
    """4,000 training and 600 test scenes (quick: 40 and 20), half with a person. Each later
    epoch trains on fresh scenes (``fresh_train_data``)."""
    n_train, n_test = (40, 20) if quick else (TRAIN_SCENES, 600)
    train_rng, test_rng = (np.random.default_rng(seed) for seed in rng.integers(2 ** 31, size=2))
    x_train, y_train = _scenes(train_rng, n_train)
    x_test, y_test = _scenes(test_rng, n_test)
    return Dataset(pixels_to_input(x_train), y_train, pixels_to_input(x_test), y_test)


def fresh_train_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A new set of training scenes for the next epoch (scenes are cheap to draw)."""
    x, y = _scenes(np.random.default_rng(rng.integers(2 ** 31)), TRAIN_SCENES)
    return pixels_to_input(x), y


def build_model():
    """MobileNetV1, alpha 0.25, 96 x 96 x 3: a stride-2 3x3 conv of 8 filters, 13
    depthwise-separable blocks (16 ... 256 filters), average pool, dense 2, softmax."""
    import keras
    from keras import layers

    blocks = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2),
              (128, 1), (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1))
    inputs = keras.Input((SIZE, SIZE, 3))
    x = conv_bn_relu(inputs, 8, 3, strides=2, name="stem_")
    for i, (filters, strides) in enumerate(blocks):
        x = depthwise_separable(x, filters, strides=strides, name=f"b{i}_")
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, pooled_classifier(x, len(LABELS)), name="mobilenet_v1_025")


RECIPE = Recipe(
    name="vww",
    task="visual wake words (person present / absent)",
    architecture="MobileNetV1 alpha 0.25, 96x96x3 (MLPerf Tiny VWW)",
    labels=LABELS,
    metric=TOP1,
    quality_target=0.80,
    make_data=make_data,
    build_model=build_model,
    epochs=15,
    batch_size=32,
    learning_rate=4e-3,
    n_vectors=200,
    fresh_train_data=fresh_train_data,
    card={
        "input": {
            "layout": "96 x 96 RGB, height x width x channel",
            "preprocessing": "uint8 pixels p -> (p - 128) / 128; int8 input = p - 128",
        },
        "output": {"meaning": "probabilities of [no_person, person] (softmax)"},
        "target_note": "top-1 accuracy on the test vectors (MLPerf Tiny's VWW target is 80%)",
        "data": {
            "provenance": "scenes drawn by models_zoo/vww/recipe.py: two-tone background with "
                          "banded shading, 2-7 random distractor shapes (including head-sized "
                          "discs, boxes and stools), and in half of them a stick-figure person "
                          "32-84 px tall, sometimes partly hidden",
        },
    },
)
