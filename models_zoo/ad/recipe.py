"""ad: anomaly detection on machine-vibration spectra with the MLPerf Tiny FC autoencoder.

Data: a synthetic machine generator. Each clip is 5 consecutive frames of a 128-band log-mel
power spectrum (0-8 kHz), concatenated into 640 values as in MLPerf Tiny's ToyADMOS input. A
normal machine (one of four machine types, each with its own rotation speed, harmonic decay,
noise floor and structural resonance) shows harmonics of its rotation frequency over a sloped
noise floor. Faults, present only in the test split, are bearing defects (peaks at a
non-integer multiple of the rotation frequency with sidebands and a raised high band),
imbalance (a stronger first harmonic), mechanical looseness (half-order harmonics) and rubbing
(a broadband hump), each at a random severity so that some are hard to tell from normal.
"""

from __future__ import annotations

import numpy as np

from models_zoo._common.features import snap_to_grid
from models_zoo._common.recipe import AUC, Dataset, Recipe

N_MELS = 128
N_FRAMES = 5
SAMPLE_RATE = 16000
FAULTS = ("bearing", "imbalance", "looseness", "rubbing")


def _mel_centres() -> np.ndarray:
    """Centre frequency (Hz) of each of the 128 mel bands between 0 and 8 kHz."""
    mel_max = 2595 * np.log10(1 + (SAMPLE_RATE / 2) / 700)
    mels = np.linspace(0, mel_max, N_MELS + 2)[1:-1]
    return 700 * (10 ** (mels / 2595) - 1)


CENTRES = _mel_centres()
# A band's width grows with frequency like a mel filter's; never narrower than 30 Hz.
WIDTHS = np.maximum(np.gradient(CENTRES) * 1.2, 30.0)

# Machine types: rotation frequency (Hz), harmonic decay per order, noise slope, resonance (Hz).
MACHINES = (
    (48.0, 0.80, -0.9, 2400.0),
    (100.0, 0.70, -0.6, 3600.0),
    (147.0, 0.75, -1.2, 1500.0),
    (230.0, 0.65, -0.4, 5200.0),
)


def _peaks(frequencies: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    """Power in each mel band from spectral lines (Gaussian band response)."""
    distance = (CENTRES[None, :] - frequencies[:, None]) / WIDTHS[None, :]
    return (amplitudes[:, None] * np.exp(-0.5 * distance ** 2)).sum(axis=0)


def _clip(rng: np.random.Generator, fault: str | None) -> np.ndarray:
    """One clip: (5 frames x 128 bands) log-power, flattened to 640 values."""
    f_rot, decay, slope, resonance = MACHINES[rng.integers(len(MACHINES))]
    f_rot *= rng.uniform(0.96, 1.04)  # load-dependent speed
    load = rng.uniform(0.7, 1.3)
    severity = rng.uniform(0.15, 1.0)
    frames = []
    for _ in range(N_FRAMES):
        floor = 10 ** (slope * np.log10(CENTRES / 100.0)) * rng.uniform(0.8, 1.25) * 0.02
        floor = floor + 0.05 * np.exp(-0.5 * ((CENTRES - resonance) / (0.15 * resonance)) ** 2)
        orders = np.arange(1, 31)
        amplitudes = load * decay ** (orders - 1) * rng.uniform(0.7, 1.3, len(orders))
        lines_f = orders * f_rot * rng.uniform(0.995, 1.005)
        lines_a = amplitudes
        if fault == "bearing":
            defect = f_rot * rng.uniform(3.2, 5.4)
            carriers = defect * np.arange(1, 6)
            side = np.concatenate([carriers, carriers - f_rot, carriers + f_rot])
            side_a = severity * 0.3 * np.concatenate([np.ones(5), 0.4 * np.ones(10)])
            lines_f, lines_a = np.concatenate([lines_f, side]), np.concatenate([lines_a, side_a])
            floor = floor * (1 + severity * 3.0 * (CENTRES > 3000))
        elif fault == "imbalance":
            lines_a = lines_a.copy()
            lines_a[0] *= 1 + severity * 3.0
        elif fault == "looseness":
            halves = (np.arange(1, 20) - 0.5) * f_rot
            lines_f = np.concatenate([lines_f, halves])
            lines_a = np.concatenate([lines_a, severity * 0.25 * decay ** np.arange(19)])
        elif fault == "rubbing":
            centre = rng.uniform(800, 6000)
            floor = floor + severity * 0.08 * np.exp(-0.5 * ((CENTRES - centre) / (0.25 * centre)) ** 2)
        power = floor + _peaks(lines_f, lines_a)
        power = power * rng.lognormal(0.0, 0.12, N_MELS)  # frame-to-frame fluctuation
        frames.append(10 * np.log10(power + 1e-6))
    # Fixed affine map of dB to about [-1, 1]: no statistics from the data, nothing to fit.
    return snap_to_grid((np.concatenate(frames) + 20.0) / 25.0)


def make_data(quick: bool, rng: np.random.Generator) -> Dataset:
    """Normal clips for training; normal and faulty clips (one fault type each) for testing."""
    n_train, n_test_each = (120, 40) if quick else (4000, 600)
    x_train = np.stack([_clip(rng, None) for _ in range(n_train)])
    normal = [_clip(rng, None) for _ in range(n_test_each)]
    faulty = [_clip(rng, FAULTS[i % len(FAULTS)]) for i in range(n_test_each)]
    x_test = np.stack(normal + faulty)
    y_test = np.array([0] * n_test_each + [1] * n_test_each)
    return Dataset(x_train, np.zeros(n_train), x_test, y_test)


def build_model():
    """MLPerf Tiny AD01: 640 -> 4 x Dense(128) -> Dense(8) -> 4 x Dense(128) -> 640,
    each hidden layer with batch norm (folded on conversion) and ReLU."""
    import keras
    from keras import layers

    from models_zoo._common.blocks import BN_MOMENTUM

    inputs = keras.Input((N_MELS * N_FRAMES,))
    x = inputs
    for i, units in enumerate((128, 128, 128, 128, 8, 128, 128, 128, 128)):
        x = layers.Dense(units, name=f"dense{i}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    outputs = layers.Dense(N_MELS * N_FRAMES, name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="ad_autoencoder")


RECIPE = Recipe(
    name="ad",
    task="anomaly detection (machine vibration spectra)",
    architecture="MLPerf Tiny AD01 fully connected autoencoder (640-128x4-8-128x4-640)",
    labels=["normal", "anomaly"],
    metric=AUC,
    quality_target=0.85,
    make_data=make_data,
    build_model=build_model,
    epochs=30,
    batch_size=64,
    learning_rate=1e-3,
    n_vectors=200,
    card={
        "input": {
            "layout": "5 frames x 128 mel bands, frame-major, flattened to 640",
            "preprocessing": "per band: 10*log10(power + 1e-6) dB, then (dB + 20) / 25, snapped to "
                             "multiples of 2**-10",
        },
        "output": {"meaning": "reconstruction of the 640 inputs (dequantize int8 outputs with the "
                              "output scale and zero point)"},
        "target_note": "AUC of the anomaly score (mean squared error between the dequantized "
                       "output and the float input x, for the float and the int8 model alike, "
                       "as MLPerf Tiny scores ad01) on the test vectors; labels y: 0 normal, "
                       "1 anomaly",
        "data": {
            "provenance": "synthetic machine spectra generated by models_zoo/ad/recipe.py: four "
                          "machine types, harmonics of a load-dependent rotation speed over a "
                          "sloped noise floor and a structural resonance; faults only in the test "
                          "split: " + ", ".join(FAULTS) + ", at random severity",
        },
    },
)
