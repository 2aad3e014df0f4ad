"""Speech clips from espeak-ng, background noise, and the MFCC front end of the kws model.

The MFCC is the MLPerf Tiny KWS front end: 16 kHz mono, 1 s clips, 40 ms Hann windows every
20 ms (49 frames), 1024-point FFT power spectrum, 40 triangular mel filters (20 Hz - 4 kHz),
natural log (+1e-6), orthonormal DCT-II, first 10 coefficients -> a 49 x 10 feature map.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # one second
WINDOW = 640  # 40 ms
HOP = 320  # 20 ms
N_FFT = 1024
N_MEL = 40
N_MFCC = 10
MEL_LOW_HZ, MEL_HIGH_HZ = 20.0, 4000.0
N_FRAMES = 1 + (CLIP_SAMPLES - WINDOW) // HOP  # 49


def espeak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """Speak ``word`` with espeak-ng and return it as float32 samples at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed: run `apt-get install -y espeak-ng`")
    wav = subprocess.run(["espeak-ng", "--stdout", "-v", voice, "-s", str(speed), "-p", str(pitch), word],
                         check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        # espeak-ng streams with an unknown length in the header; read what is there.
        samples = np.frombuffer(reader.readframes(reader.getnframes() or 1 << 24), dtype="<i2")
    return resample(samples.astype(np.float32) / 32768.0, rate, SAMPLE_RATE)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by truncating (or zero-padding) the spectrum."""
    if rate_in == rate_out:
        return samples.astype(np.float32)
    n_out = int(round(len(samples) * rate_out / rate_in))
    spectrum = np.fft.rfft(samples)
    keep = n_out // 2 + 1
    spectrum = spectrum[:keep] if len(spectrum) >= keep else np.pad(spectrum, (0, keep - len(spectrum)))
    return (np.fft.irfft(spectrum, n_out) * (n_out / len(samples))).astype(np.float32)


def place_in_clip(speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Trim leading/trailing silence and place the word at a random offset in a 1 s clip
    (words longer than 1 s are cut at the end)."""
    loud = np.flatnonzero(np.abs(speech) > 0.02 * (np.abs(speech).max() + 1e-9))
    if len(loud):
        speech = speech[loud[0]:loud[-1] + 1]
    speech = speech[:CLIP_SAMPLES]
    clip = np.zeros(CLIP_SAMPLES, np.float32)
    start = rng.integers(0, CLIP_SAMPLES - len(speech) + 1)
    clip[start:start + len(speech)] = speech
    return clip


def background_noise(rng: np.random.Generator, n: int = CLIP_SAMPLES) -> np.ndarray:
    """One second of a random noise type at unit RMS: white, pink, brown, mains hum with
    harmonics, or a 'babble' of band-limited amplitude-modulated noise."""
    kind = rng.integers(5)
    white = rng.standard_normal(n)
    if kind == 0:
        noise = white
    elif kind in (1, 2):  # pink (1/f) or brown (1/f^2) by shaping the spectrum
        spectrum = np.fft.rfft(white)
        f = np.maximum(np.arange(len(spectrum)), 1)
        noise = np.fft.irfft(spectrum / (np.sqrt(f) if kind == 1 else f), n)
    elif kind == 3:
        t = np.arange(n) / SAMPLE_RATE
        mains = rng.choice([50.0, 60.0])
        noise = sum(rng.uniform(0.2, 1) * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3))
                    for k in range(1, 8)) + 0.1 * white
    else:
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        spectrum[(f < 200) | (f > 3000)] = 0
        envelope = 1 + np.sin(2 * np.pi * rng.uniform(2, 6) * np.arange(n) / SAMPLE_RATE)
        noise = np.fft.irfft(spectrum, n) * envelope
    return (noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)


def mix_at_snr(clip: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` to ``clip`` so that the speech-to-noise power ratio is ``snr_db``."""
    speech_rms = np.sqrt(np.mean(clip ** 2)) + 1e-12
    return (clip + noise * speech_rms / 10 ** (snr_db / 20)).astype(np.float32)


def _mel_filterbank() -> np.ndarray:
    """(N_FFT/2+1, N_MEL) triangular filters, equally spaced on the HTK mel scale."""
    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    mel_points = np.linspace(to_mel(MEL_LOW_HZ), to_mel(MEL_HIGH_HZ), N_MEL + 2)
    hz_points = 700.0 * (10 ** (mel_points / 2595.0) - 1.0)
    fft_hz = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    bank = np.zeros((len(fft_hz), N_MEL))
    for m in range(N_MEL):
        low, centre, high = hz_points[m:m + 3]
        rising = (fft_hz - low) / (centre - low)
        falling = (high - fft_hz) / (high - centre)
        bank[:, m] = np.maximum(0.0, np.minimum(rising, falling))
    return bank


def _dct_matrix() -> np.ndarray:
    """(N_MEL, N_MFCC) orthonormal DCT-II basis."""
    n = np.arange(N_MEL)
    k = np.arange(N_MFCC)
    basis = np.cos(np.pi / N_MEL * (n[:, None] + 0.5) * k[None, :]) * np.sqrt(2.0 / N_MEL)
    basis[:, 0] /= np.sqrt(2.0)
    return basis


MEL_FILTERBANK = _mel_filterbank()
DCT_MATRIX = _dct_matrix()
HANN = np.hanning(WINDOW + 1)[:-1]  # periodic Hann


def mfcc(clip: np.ndarray) -> np.ndarray:
    """(49, 10) MFCC of a 1 s, 16 kHz clip (see the module docstring for the exact steps)."""
    if len(clip) != CLIP_SAMPLES:
        raise ValueError(f"MFCC needs {CLIP_SAMPLES} samples (1 s at 16 kHz), got {len(clip)}")
    starts = np.arange(N_FRAMES) * HOP
    frames = np.stack([clip[s:s + WINDOW] for s in starts]) * HANN
    power = np.abs(np.fft.rfft(frames, N_FFT)) ** 2
    log_mel = np.log(power @ MEL_FILTERBANK + 1e-6)
    return (log_mel @ DCT_MATRIX).astype(np.float32)
