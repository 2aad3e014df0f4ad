"""gesture: gesture recognition on 3-axis accelerometer windows with a small 1D CNN.

Data: a synthetic IMU. Each recording is 10 s of one gesture at 50 Hz, in g, as seen by a
sensor held at a random orientation (tilt up to 35 degrees, any yaw): gravity plus the
gesture's own acceleration, plus physiological tremor, sensor noise and a per-recording bias.
Windows of 128 samples (2.56 s) are cut every 32 samples. Train and test windows come from
different recordings, so overlapping windows never straddle the split.
"""

from __future__ import annotations

import numpy as np

from models_zoo._common.blocks import conv_bn_relu
from models_zoo._common.features import snap_to_grid
from models_zoo._common.recipe import TOP1, Dataset, Recipe

RATE_HZ = 50.0
WINDOW = 128
STEP = 32
RECORDING_SECONDS = 10.0
LABELS = ["idle", "wave", "circle", "punch", "shake", "tilt"]


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """Sensor orientation: a random yaw, then a tilt of up to 35 degrees about a random axis."""
    yaw = rng.uniform(0, 2 * np.pi)
    rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    axis = np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a), 0.0])
    return _axis_angle(axis, np.radians(rng.uniform(0, 35))) @ rz


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _motion(label: str, t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(linear acceleration, gravity direction) in the hand's frame, each (n, 3), in g."""
    n = len(t)
    accel = np.zeros((n, 3))
    gravity = np.tile([0.0, 0.0, 1.0], (n, 1))
    phase = rng.uniform(0, 2 * np.pi)
    tempo = rng.uniform(0.85, 1.15) * (1 + 0.05 * np.sin(2 * np.pi * 0.1 * t))  # drifting pace
    if label == "wave":
        f, amp = rng.uniform(1.5, 3.0), rng.uniform(0.4, 1.2)
        accel[:, 0] = amp * np.sin(2 * np.pi * f * tempo * t + phase)
        accel[:, 1] = 0.2 * amp * np.sin(4 * np.pi * f * tempo * t + phase)
    elif label == "circle":
        f, amp = rng.uniform(0.7, 1.5), rng.uniform(0.3, 1.0)
        accel[:, 0] = amp * np.cos(2 * np.pi * f * tempo * t + phase)
        accel[:, 1] = amp * np.sin(2 * np.pi * f * tempo * t + phase) * rng.choice([-1, 1])
    elif label == "punch":
        period, amp = rng.uniform(0.8, 1.5), rng.uniform(1.0, 2.5)
        for start in np.arange(rng.uniform(0, period), t[-1], period):
            start += rng.normal(0, 0.05)
            width = rng.uniform(0.05, 0.1)
            accel[:, 2] += amp * (np.exp(-0.5 * ((t - start) / width) ** 2)
                                  - np.exp(-0.5 * ((t - start - 2.5 * width) / width) ** 2))
    elif label == "shake":
        f, amp = rng.uniform(5.0, 8.0), rng.uniform(0.5, 1.5)
        direction = rng.normal(size=3)
        accel += np.outer(amp * np.sin(2 * np.pi * f * tempo * t + phase), direction / np.linalg.norm(direction))
    elif label == "tilt":
        f, max_angle = rng.uniform(0.3, 0.6), np.radians(rng.uniform(40, 80))
        axis = np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a), 0.0])
        angles = max_angle * np.sin(2 * np.pi * f * tempo * t + phase)
        gravity = np.stack([_axis_angle(axis, angle).T @ np.array([0, 0, 1.0]) for angle in angles])
    # idle: the hand at rest; only tremor and noise (added by the caller)
    return accel, gravity


def _recording(label: str, rng: np.random.Generator) -> np.ndarray:
    """One 10 s recording, (n, 3) in g, as the sensor reports it."""
    t = np.arange(int(RECORDING_SECONDS * RATE_HZ)) / RATE_HZ
    accel, gravity = _motion(label, t, rng)
    tremor = 0.02 * np.sin(2 * np.pi * rng.uniform(8, 12) * t[:, None] + rng.uniform(0, 6.3, 3))
    sensor = (accel + gravity + tremor) @ _rotation(rng).T
    return sensor + rng.normal(0, 0.03, sensor.shape) + rng.normal(0, 0.05, 3)


def _windows(recordings: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    x, y = [], []
    for label, signal in recordings:
        for start in range(0, len(signal) - WINDOW + 1, STEP):
            x.append(signal[start:start + WINDOW])
            y.append(label)
    return snap_to_grid(np.stack(x)), np.array(y)


def make_data(quick: bool, rng: np.random.Generator) -> Dataset:
    """Recordings per gesture: 50 train / 12 test (quick: 2 / 1); 13 windows each."""
    n_train, n_test = (2, 1) if quick else (50, 12)

    def recordings(count: int) -> list[tuple[int, np.ndarray]]:
        return [(i, _recording(label, rng)) for i, label in enumerate(LABELS) for _ in range(count)]

    x_train, y_train = _windows(recordings(n_train))
    x_test, y_test = _windows(recordings(n_test))
    return Dataset(x_train, y_train, x_test, y_test)


def build_model():
    """1D CNN as 2D convolutions over (time, 1): three conv layers (16, 32, 32) with max
    pooling, global average pool, dense, softmax."""
    import keras
    from keras import layers

    inputs = keras.Input((WINDOW, 3))
    x = layers.Reshape((WINDOW, 1, 3))(inputs)
    x = conv_bn_relu(x, 16, (5, 1), name="c1_")
    x = layers.MaxPooling2D((2, 1))(x)
    x = conv_bn_relu(x, 32, (5, 1), name="c2_")
    x = layers.MaxPooling2D((2, 1))(x)
    x = conv_bn_relu(x, 32, (3, 1), name="c3_")
    x = layers.AveragePooling2D((WINDOW // 4, 1))(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(len(LABELS))(x)
    return keras.Model(inputs, layers.Softmax()(x), name="gesture_cnn")


RECIPE = Recipe(
    name="gesture",
    task="gesture recognition (accelerometer)",
    architecture="1D CNN as CONV_2D over (time, 1): conv 16/32/32, max pool, average pool, dense",
    labels=LABELS,
    metric=TOP1,
    quality_target=0.90,
    make_data=make_data,
    build_model=build_model,
    epochs=25,
    batch_size=64,
    learning_rate=3e-3,
    n_vectors=240,
    card={
        "input": {
            "layout": "128 samples (50 Hz, 2.56 s) x 3 axes (x, y, z), in g",
            "preprocessing": "raw acceleration in g, snapped to multiples of 2**-10; windows of 128 "
                             "samples cut every 32 samples",
        },
        "output": {"meaning": "class probabilities (softmax), in label order"},
        "target_note": "top-1 accuracy on the test vectors (windows from recordings never seen in "
                       "training)",
        "data": {
            "provenance": "synthetic IMU generated by models_zoo/gesture/recipe.py: gravity at a "
                          "random sensor orientation, per-gesture hand acceleration with random "
                          "tempo and amplitude, tremor, sensor noise and bias; 10 s recordings",
        },
    },
)
