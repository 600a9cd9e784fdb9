"""Non-digit images in MNIST form, for outlier exposure (Hendrycks et al., 2019).

A camera sees many things that are not digits: scribbles, letters, blobs, ruled-line
fragments, paper texture. Trained on such images with a *uniform* target, the same
10-way softmax learns to spread its probability over them, so the runtime's confidence
threshold rejects them; the network and its inference graph do not change.

Each image is drawn as ink on a larger canvas and normalised by ``runtime.preprocess.to_mnist``,
the very function the runtime applies to camera crops, so it looks like what a device feeds.
"""

from __future__ import annotations

import cv2
import numpy as np

from runtime.errors import NoDigitFoundError
from runtime.preprocess import to_mnist

CANVAS = 64
# Letters and signs that no digit resembles closely (no O, I, l, S, Z, B, G, q, g, T, ...).
LETTERS = "ACEFHKMNPRVWXaehkmnrvwx#%&@*+"
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
)


def _scribble(canvas: np.ndarray, rng: np.random.Generator, thickness: int) -> None:
    points = rng.integers(4, CANVAS - 4, (int(rng.integers(7, 14)), 2)).astype(np.int32)
    cv2.polylines(canvas, [points], False, 255, thickness, cv2.LINE_AA)


def _blob(canvas: np.ndarray, rng: np.random.Generator, thickness: int) -> None:
    centre = tuple(int(v) for v in rng.integers(20, 44, 2))
    major = int(rng.integers(10, 26))
    axes = (major, int(major * rng.uniform(0.5, 1.0)))  # never a thin sliver that looks like a 1
    cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA)


def _lines(canvas: np.ndarray, rng: np.random.Generator, thickness: int) -> None:
    count = int(rng.integers(2, 5))
    horizontal = rng.random() < 0.5
    for i in range(count):
        offset = 8 + i * (48 // count) + int(rng.integers(0, 4))
        jitter = int(rng.integers(-4, 5))
        start, end = (
            ((4, offset), (60, offset + jitter))
            if horizontal
            else ((offset, 4), (offset + jitter, 60))
        )
        cv2.line(canvas, start, end, 255, thickness, cv2.LINE_AA)
    if rng.random() < 0.5:  # a grid / hash
        for i in range(count):
            offset = 8 + i * (48 // count)
            start, end = ((offset, 4), (offset, 60)) if horizontal else ((4, offset), (60, offset))
            cv2.line(canvas, start, end, 255, thickness, cv2.LINE_AA)


def _letter(canvas: np.ndarray, rng: np.random.Generator, thickness: int) -> None:
    text = LETTERS[int(rng.integers(len(LETTERS)))]
    font = FONTS[int(rng.integers(len(FONTS)))]
    cv2.putText(canvas, text, (12, 50), font, 1.6, 255, max(2, thickness - 1), cv2.LINE_AA)


def _texture(canvas: np.ndarray, rng: np.random.Generator, thickness: int) -> None:
    noise = cv2.GaussianBlur(rng.random((CANVAS, CANVAS)).astype(np.float32), (0, 0), 2.5)
    canvas[noise > np.quantile(noise, rng.uniform(0.6, 0.85))] = 255


KINDS = (_scribble, _scribble, _blob, _lines, _letter, _letter, _texture)


def render_outliers(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` non-digit images (N, 28, 28) uint8, white ink on black like MNIST."""
    out = np.zeros((count, 28, 28), np.uint8)
    filled = 0
    while filled < count:
        canvas = np.zeros((CANVAS, CANVAS), np.uint8)
        kind = KINDS[int(rng.integers(len(KINDS)))]
        kind(canvas, rng, int(rng.integers(3, 7)))
        try:
            out[filled] = to_mnist(canvas)
        except NoDigitFoundError:
            continue
        filled += 1
    return out


def uniform_targets(count: int, classes: int = 10) -> np.ndarray:
    """The outlier-exposure target: equal probability on every class."""
    return np.full((count, classes), 1.0 / classes, np.float32)
