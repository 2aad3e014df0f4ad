"""Feature conventions shared by every recipe."""

from __future__ import annotations

import numpy as np

#: Float features are snapped to multiples of 2**-10 (far finer than any int8 step used here),
#: which makes the committed float vectors compress well. It is part of every feature's
#: definition, so the model is trained and tested on exactly these values.
FEATURE_STEP = 2.0 ** -10


def snap_to_grid(x: np.ndarray, step: float = FEATURE_STEP) -> np.ndarray:
    """Round features to the nearest multiple of ``step`` (float32)."""
    return (np.round(np.asarray(x, dtype=np.float64) / step) * step).astype(np.float32)


def pixels_to_input(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels -> model input (p - 128) / 128 in [-1, 127/128]. Calibrated on images that
    use the whole range, the int8 input scale is 1/128 with zero point 0, so x_int8 = p - 128."""
    return ((np.asarray(pixels, dtype=np.float32) - 128.0) / 128.0).astype(np.float32)
