"""The shared feature and scoring code the zoo is built with (models_zoo/_common)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hilbench.measure.accuracy import roc_auc
from models_zoo._common import audio
from models_zoo._common.convert import quantize
from models_zoo._common.features import pixels_to_input, snap_to_grid


def test_mfcc_of_a_tone_peaks_in_the_mel_band_of_its_frequency():
    t = np.arange(audio.CLIP_SAMPLES) / audio.SAMPLE_RATE
    for frequency in (300.0, 1000.0, 2500.0):
        clip = 0.5 * np.sin(2 * np.pi * frequency * t).astype(np.float32)
        features = audio.mfcc(clip)
        assert features.shape == (49, 10) and features.dtype == np.float32
        # Undo the DCT (orthonormal, truncated): the smoothed log-mel spectrum peaks at the tone.
        centre_band = np.argmax(audio.MEL_FILTERBANK[np.argmin(np.abs(np.fft.rfftfreq(audio.N_FFT, 1 / 16000) - frequency))])
        smoothed = features[24] @ audio.DCT_MATRIX.T
        assert abs(int(np.argmax(smoothed)) - int(centre_band)) <= 2


def test_dct_basis_is_orthonormal_and_filters_cover_the_band():
    assert np.allclose(audio.DCT_MATRIX.T @ audio.DCT_MATRIX, np.eye(audio.N_MFCC))
    frequencies = np.fft.rfftfreq(audio.N_FFT, 1 / audio.SAMPLE_RATE)
    covered = audio.MEL_FILTERBANK.sum(axis=1) > 0
    assert frequencies[covered].min() < 40 and 3950 < frequencies[covered].max() <= 4000


def test_resample_keeps_a_tone_at_its_frequency():
    t = np.arange(22050) / 22050
    resampled = audio.resample(np.sin(2 * np.pi * 440 * t), 22050, 16000)
    assert len(resampled) == 16000
    assert np.argmax(np.abs(np.fft.rfft(resampled))) == 440


def test_pixels_map_to_a_grid_that_int8_represents_exactly():
    pixels = np.arange(256, dtype=np.uint8)
    x = pixels_to_input(pixels)
    assert x.min() == -1.0 and x.max() == 127 / 128
    assert np.array_equal(quantize(x, 1 / 128, 0), (pixels.astype(int) - 128).astype(np.int8))
    assert np.array_equal(snap_to_grid(x), x)


def test_quantize_rounds_half_away_from_zero_and_clamps():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1000.0, -1000.0], np.float32)
    assert quantize(x, 1.0, 0).tolist() == [-3, -2, -1, 1, 2, 3, 127, -128]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=40))
def test_auc_matches_pairwise_counting_with_ties(samples):
    scores = np.array([s for s, _ in samples], float)
    labels = np.array([a for _, a in samples], int)
    assume(labels.min() != labels.max())  # an AUC needs both classes
    pos, neg = scores[labels == 1][:, None], scores[labels == 0][None, :]
    expected = np.mean((pos > neg) + 0.5 * (pos == neg))
    assert abs(roc_auc(scores, labels) - expected) < 1e-12
