"""Procedural surfaces a camera may see instead of paper: wood grain and woven fabric."""

from __future__ import annotations

import numpy as np

from benchmarks.corpora.photo import smooth_noise

# Wood (BGR): (dark grain, light wood) pairs - oak, walnut, pine, stained red.
WOODS = (
    ((40, 75, 120), (110, 160, 205)),
    ((25, 40, 60), (70, 100, 140)),
    ((70, 120, 170), (150, 200, 235)),
    ((30, 40, 90), (80, 100, 165)),
)


def _rotated_grid(height: int, width: int, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by ``degrees``: (along, across), float32."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    theta = np.deg2rad(degrees)
    along = xs * np.float32(np.cos(theta)) + ys * np.float32(np.sin(theta))
    across = -xs * np.float32(np.sin(theta)) + ys * np.float32(np.cos(theta))
    return along, across


def wood(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A wooden table top: long grain lines of irregular spacing, gently bent, fine
    streaks, sometimes the seams between planks."""
    degrees = rng.choice([0.0, 90.0]) + rng.uniform(-10, 10)
    along, across = _rotated_grid(height, width, degrees)
    bend = smooth_noise(height, width, float(rng.uniform(150, 320)), rng) * np.float32(
        rng.uniform(4, 25)
    )
    # Grain: a random profile across the grain (growth rings of uneven width), read at each
    # pixel's bent across-coordinate.
    position = across + bend + np.float32(rng.uniform(-0.03, 0.03)) * along
    position -= position.min()
    span = int(position.max()) + 2
    period = rng.uniform(6, 24)
    rings = np.cumsum(rng.uniform(0.4, 1.6, int(span / period) + 2)) * period
    phase = np.interp(np.arange(span), rings, np.arange(len(rings)))
    late = (0.5 + 0.5 * np.cos(2 * np.pi * phase)) ** rng.uniform(2.0, 6.0)  # dark late wood
    fine = np.convolve(rng.uniform(-1, 1, span), np.ones(3) / 3, mode="same")
    profile = (0.6 * late + 0.15 * fine).astype(np.float32)
    index = position.astype(np.int32)
    tone = 0.2 - profile[index] + 0.15 * smooth_noise(height, width, 200, rng)
    if rng.random() < 0.6:  # seams between planks
        plank = np.float32(rng.uniform(90, 220))
        seam = np.abs(((across + rng.uniform(0, plank)) % plank) - plank / 2) > plank / 2 - 1.5
        tone = np.where(seam, np.float32(-0.6), tone)
    dark, light = (np.array(c, np.float32) for c in WOODS[int(rng.integers(len(WOODS)))])
    mix = np.clip(0.5 + tone, 0, 1)[..., None]
    return dark + (light - dark) * mix


def fabric(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Woven cloth: plain or twill weave of shaded threads, maybe a plaid, with folds."""
    period = np.float32(rng.uniform(3.5, 11))
    along, across = _rotated_grid(height, width, float(rng.uniform(-15, 15)))
    col, row = np.floor(along / period), np.floor(across / period)
    twill = rng.random() < 0.4
    over = ((col + row) % 3 == 0) if twill else ((col + row) % 2 == 0)
    # Each visible thread is rounded: brightest along its middle.
    frac_a, frac_c = along / period - col, across / period - row
    shade = np.where(over, np.sin(np.pi * frac_c), np.sin(np.pi * frac_a)).astype(np.float32)
    base = rng.uniform(30, 220, 3).astype(np.float32)
    weft = np.clip(base + rng.uniform(-40, 40, 3), 0, 255).astype(np.float32)
    color = np.where(over[..., None], base, weft)
    if rng.random() < 0.4:  # plaid: bands of a second colour both ways
        band = np.float32(period * rng.integers(4, 12))
        stripe = (((along // band) % 3 == 0) | ((across // band) % 3 == 0))[..., None]
        second = rng.uniform(20, 230, 3).astype(np.float32)
        color = np.where(stripe, 0.5 * color + 0.5 * second, color)
    fuzz = rng.standard_normal((height, width), dtype=np.float32) * np.float32(0.08)
    folds = smooth_noise(height, width, float(rng.uniform(80, 200)), rng) * np.float32(0.15)
    light = (0.7 + 0.3 * shade + fuzz + folds)[..., None]
    return (color * light).astype(np.float32)
