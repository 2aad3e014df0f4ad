"""kws: keyword spotting with the MLPerf Tiny DS-CNN on 49 x 10 MFCC features.

Data: every clip is spoken here by espeak-ng. Ten keywords (the MLPerf Tiny / Speech Commands
set), an "unknown" class of twenty other words and a "silence" class of noise only. Speakers
are (espeak-ng voice, variant) pairs; the test split uses pairs never heard in training. Speed
and pitch are drawn per clip; each clip gets a random gain, a random position inside the
second, and one of five background-noise types at 5-30 dB SNR. Features: the numpy MFCC in
models_zoo/_common/audio.py, snapped to a 2**-10 grid.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models_zoo._common import audio
from models_zoo._common.blocks import conv_bn_relu, depthwise_separable, pooled_classifier
from models_zoo._common.features import snap_to_grid
from models_zoo._common.recipe import TOP1, Dataset, Recipe

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "happy", "house", "tree", "wow", "one", "two",
                 "three", "four", "five", "six", "seven", "eight", "nine", "zero", "learn", "follow")
LABELS = ["silence", "unknown", *KEYWORDS]
BASE_VOICES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
               "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
TEST_SPEAKER_FRACTION = 0.2


def _speakers(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """All voice+variant speakers, split into (train, test) without overlap."""
    speakers = [f"{base}+{variant}" for base in BASE_VOICES for variant in VARIANTS]
    order = rng.permutation(len(speakers))
    n_test = int(len(speakers) * TEST_SPEAKER_FRACTION)
    return [speakers[i] for i in order[n_test:]], [speakers[i] for i in order[:n_test]]


def _plan(rng: np.random.Generator, speakers: list[str], per_keyword: int) -> list[tuple]:
    """(label, word, speaker, speed, pitch, gain, noise seed, snr) for every clip of a split."""
    plan = []
    counts = {"silence": per_keyword, "unknown": 2 * per_keyword, **{k: per_keyword for k in KEYWORDS}}
    for label, count in counts.items():
        for _ in range(count):
            word = rng.choice(UNKNOWN_WORDS) if label == "unknown" else label
            plan.append((LABELS.index(label), str(word), str(rng.choice(speakers)), int(rng.integers(110, 231)),
                         int(rng.integers(20, 91)), float(rng.uniform(0.1, 1.0)),
                         int(rng.integers(2 ** 31)), float(rng.uniform(5, 30))))
    return plan


def _features(item: tuple) -> np.ndarray:
    label, word, speaker, speed, pitch, gain, noise_seed, snr_db = item
    rng = np.random.default_rng(noise_seed)
    noise = audio.background_noise(rng)
    if LABELS[label] == "silence":
        clip = noise * gain * rng.uniform(0.001, 0.1)
    else:
        speech = audio.espeak(word, speaker, speed, pitch)
        clip = audio.mix_at_snr(audio.place_in_clip(speech, rng) * gain, noise, snr_db)
    return snap_to_grid(audio.mfcc(clip))[..., None]


def _render(plan: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    # espeak-ng runs as a subprocess, so two threads keep both cores busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        x = np.stack(list(pool.map(_features, plan)))
    return x, np.array([item[0] for item in plan])


def make_data(quick: bool, rng: np.random.Generator) -> Dataset:
    """Clips per keyword: 180 train / 40 test (quick: 6 / 2); unknown gets twice as many."""
    train_speakers, test_speakers = _speakers(rng)
    per_train, per_test = (6, 2) if quick else (180, 40)
    x_train, y_train = _render(_plan(rng, train_speakers, per_train))
    x_test, y_test = _render(_plan(rng, test_speakers, per_test))
    return Dataset(x_train, y_train, x_test, y_test)


def build_model():
    """MLPerf Tiny DS-CNN (small): Conv 64 (10x4, stride 2), four depthwise-separable blocks of
    64, average pool, dense 12, softmax."""
    import keras
    from keras import layers

    inputs = keras.Input((audio.N_FRAMES, audio.N_MFCC, 1))
    x = conv_bn_relu(inputs, 64, (10, 4), strides=2, name="stem_")
    x = layers.Dropout(0.2)(x)
    for i in range(4):
        x = depthwise_separable(x, 64, name=f"ds{i}_")
    x = layers.Dropout(0.4)(x)
    return keras.Model(inputs, pooled_classifier(x, len(LABELS)), name="ds_cnn")


RECIPE = Recipe(
    name="kws",
    task="keyword spotting",
    architecture="MLPerf Tiny DS-CNN (64 filters, 4 depthwise-separable blocks)",
    labels=LABELS,
    metric=TOP1,
    quality_target=0.90,
    make_data=make_data,
    build_model=build_model,
    epochs=30,
    batch_size=64,
    learning_rate=3e-3,
    n_vectors=200,
    card={
        "input": {
            "layout": "49 frames x 10 MFCC coefficients x 1",
            "preprocessing": ("16 kHz mono, 1 s; 40 ms periodic Hann window every 20 ms (49 frames); "
                              "1024-point FFT power; 40 triangular HTK-mel filters 20-4000 Hz; "
                              "ln(mel + 1e-6); orthonormal DCT-II, first 10 coefficients; values "
                              "snapped to multiples of 2**-10 (models_zoo/_common/audio.py)"),
        },
        "output": {"meaning": "class probabilities (softmax), in label order"},
        "target_note": "top-1 accuracy on the test vectors (speakers never seen in training); "
                       "MLPerf Tiny's KWS target is 90%",
        "data": {
            "provenance": ("spoken by espeak-ng: " + ", ".join(KEYWORDS) + "; unknown: "
                           + ", ".join(UNKNOWN_WORDS) + "; silence: noise only. Speakers: "
                           + f"{len(BASE_VOICES)} voices x {len(VARIANTS)} variants, 20% held out "
                           "for testing; speed 110-230 wpm, pitch 20-90, gain 0.1-1, random "
                           "placement, white/pink/brown/hum/babble noise at 5-30 dB SNR"),
        },
    },
)
