"""Digits in handwriting fonts, positives for the judge beyond MNIST's writers.

``glyphs.npz`` holds the digits of 21 handwriting and school fonts from Debian's packages
(none of them the reading benchmark's), rendered once by ``scripts/render_glyphs.py`` and
committed, so training needs no fonts and every machine trains on the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from camera_demo.paper import restroke, slant_and_turn
from runtime.images import require_opencv

GLYPHS_FILE = Path(__file__).with_name("glyphs.npz")
DIGITS = "0123456789"
# Each font is rendered at the size that makes its digits about this tall (median ink height),
# so that drawing them at any smaller height only ever shrinks their pixels.
RENDERED_HEIGHT = 96


@dataclass(frozen=True)
class Glyphs:
    """Every font's digits as ink (float32 0..1, cut to the ink), by font index and digit."""

    digits: list[dict[str, np.ndarray]]
    font_names: list[str]

    def digit_height(self, font: int) -> float:
        """The median ink height of the font's digits."""
        return float(np.median([ink.shape[0] for ink in self.digits[font].values()]))


@lru_cache(maxsize=1)
def load() -> Glyphs:
    """The committed glyphs (read once per process)."""
    with np.load(GLYPHS_FILE) as data:
        pixels, shapes, chars, fonts = data["pixels"], data["shapes"], data["chars"], data["fonts"]
        names = [str(name) for name in data["font_names"]]
    digits: list[dict[str, np.ndarray]] = [{} for _ in names]
    start = 0
    for (height, width), char, font in zip(shapes, chars, fonts, strict=True):
        ink = pixels[start : start + height * width].reshape(height, width)
        start += height * width
        digits[font][str(char)] = ink.astype(np.float32) / 255.0
    return Glyphs(digits, names)


def digit_coverage(
    digit: int, height: float, font: int, shear: float = 0.0, angle: float = 0.0, pen: int = 0
) -> np.ndarray:
    """Ink coverage 0..1 of ``digit`` in handwriting font ``font`` (an index of ``load()``),
    scaled as the font's digits are ``height`` px tall, made bolder by ``pen`` px, slanted by
    ``shear`` (x per y) and turned by ``angle`` degrees; cropped to its ink."""
    cv2 = require_opencv()
    glyphs = load()
    ink = glyphs.digits[font][str(digit)]
    scale = height / glyphs.digit_height(font)
    rows = max(1, round(ink.shape[0] * scale))
    cols = max(1, round(ink.shape[1] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    ink = np.clip(cv2.resize(ink, (cols, rows), interpolation=interpolation), 0, 1)
    pad = max(pen, 0) + math.ceil(abs(shear) * rows) + 4  # room for the pen and the slant
    return slant_and_turn(restroke(np.pad(ink, pad), pen), shear, angle, pad)
