"""Image helpers shared by the vision recipes: affine warps and coloured backgrounds."""

from __future__ import annotations

import numpy as np


def random_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) RGB colours in 0..255; 30% of channels saturate at 0 or 255, so that the pixel range
    of any few hundred images spans 0..255 (which fixes the int8 input scale at 1/128)."""
    colours = rng.integers(0, 256, (n, 3)).astype(np.float64)
    saturate = rng.random((n, 3)) < 0.3
    colours[saturate] = rng.choice([0.0, 255.0], saturate.sum())
    return colours


def shaded_background(rng: np.random.Generator, size: int, bands: int = 4, spread: float = 40.0) -> np.ndarray:
    """(size, size, 3) float background: a random colour shaded by up to +-``spread`` along a
    random direction, in ``bands`` flat steps (a stand-in for uneven lighting; flat steps keep
    the committed test images small once compressed)."""
    start = random_colours(rng, 1)[0]
    end = np.clip(start + rng.uniform(-spread, spread, 3), 0, 255)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    ramp = np.clip(0.5 + (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle), 0, 1)
    ramp = np.minimum(np.floor(ramp * bands), bands - 1) / max(bands - 1, 1)
    return start + (end - start) * ramp[..., None]


def warp(image: np.ndarray, size: int, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """Sample a single-channel ``image`` into a (size, size) output, bilinearly: rotated by
    ``angle`` (radians), magnified by ``scale`` output pixels per input pixel, centred and then
    moved by ``shift`` (x, y) output pixels. Outside the source is 0."""
    h, w = image.shape
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    # Inverse map: output pixel centre -> source coordinate.
    ox = xx - (size - 1) / 2 - shift[0]
    oy = yy - (size - 1) / 2 - shift[1]
    cos, sin = np.cos(angle), np.sin(angle)
    sx = (cos * ox + sin * oy) / scale + (w - 1) / 2
    sy = (-sin * ox + cos * oy) / scale + (h - 1) / 2
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    padded = np.pad(image, 1)  # zero border: indices shift by one

    def at(y, x):
        return padded[np.clip(y + 1, 0, h + 1), np.clip(x + 1, 0, w + 1)]

    out = (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy)
           + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy)
    inside = (sx > -1) & (sx < w) & (sy > -1) & (sy < h)
    return np.where(inside, out, 0.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip a float image to 0..255 pixels."""
    return np.clip(np.round(image), 0, 255).astype(np.uint8)
