"""Digits in handwriting fonts, positives for the judge beyond MNIST's writers.

``glyphs.npz`` holds the digits of 22 handwriting and school fonts from Debian's packages
(none of them the reading benchmark's), rendered once by ``scripts/render_glyphs.py`` and
committed, so training needs no fonts and every machine trains on the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from camera_demo.paper import slant_and_turn
from runtime.images import require_opencv

GLYPHS_FILE = Path(__file__).with_name("glyphs.npz")
DIGITS = "0123456789"


@dataclass(frozen=True)
class Glyph:
    """One rendered character: its ink (float32 0..1) and where it sits from the pen
    position on the baseline, all at ``Glyphs.font_size``."""

    ink: np.ndarray
    top: int
    left: int
    advance: float


@dataclass(frozen=True)
class Glyphs:
    """Every glyph by font and character."""

    by_font: list[dict[str, Glyph]]
    font_names: list[str]
    font_size: int

    def digit_height(self, font: int) -> float:
        """The median ink height of the font's digits: fonts of one size differ 3x in it."""
        return float(np.median([self.by_font[font][d].ink.shape[0] for d in DIGITS]))

    def fonts_with(self, chars: str) -> list[int]:
        """Indices of the fonts that have every character of ``chars``."""
        return [i for i, font in enumerate(self.by_font) if all(c in font for c in chars)]


@lru_cache(maxsize=1)
def load() -> Glyphs:
    """The committed glyphs (read once per process)."""
    with np.load(GLYPHS_FILE) as data:
        pixels, shapes, places = data["pixels"], data["shapes"], data["places"]
        advances, chars, fonts = data["advances"], data["chars"], data["fonts"]
        names, size = [str(n) for n in data["font_names"]], int(data["font_size"])
    by_font: list[dict[str, Glyph]] = [{} for _ in names]
    start = 0
    for (height, width), (top, left), advance, char, font in zip(
        shapes, places, advances, chars, fonts, strict=True
    ):
        ink = pixels[start : start + height * width].reshape(height, width)
        start += height * width
        by_font[font][str(char)] = Glyph(
            ink.astype(np.float32) / 255.0, int(top), int(left), float(advance)
        )
    return Glyphs(by_font, names, size)


def text_coverage(
    text: str,
    height: float,
    font: int,
    rng: np.random.Generator,
    shear: float = 0.0,
    angle: float = 0.0,
    pen: int = 0,
) -> np.ndarray:
    """Ink coverage 0..1 of ``text`` in handwriting font ``font`` (an index of ``load()``),
    written by a hand whose digits are ``height`` px tall, each letter placed with a little jitter as a hand
    would, slanted, turned and made bolder (``pen`` > 0) or thinner (< 0) by ``pen`` px."""
    cv2 = require_opencv()
    glyphs = load()
    face = glyphs.by_font[font]
    size = glyphs.font_size
    placed: list[tuple[Glyph, int, int]] = []
    pen_x = 0.0
    for char in text:
        glyph = face[char]
        x = round(pen_x + glyph.left + rng.uniform(-0.03, 0.03) * size)
        y = round(glyph.top + rng.uniform(-0.04, 0.04) * size)
        placed.append((glyph, x, y))
        pen_x += glyph.advance * rng.uniform(0.92, 1.12)
    left = min(x for _, x, _ in placed)
    top = min(y for _, _, y in placed)
    right = max(x + g.ink.shape[1] for g, x, _ in placed)
    bottom = max(y + g.ink.shape[0] for g, _, y in placed)
    canvas = np.zeros((bottom - top, right - left), np.float32)
    for glyph, x, y in placed:
        h, w = glyph.ink.shape
        window = canvas[y - top : y - top + h, x - left : x - left + w]
        np.maximum(window, glyph.ink, out=window)
    scale = height / glyphs.digit_height(font)
    rows = max(1, round(canvas.shape[0] * scale))
    cols = max(1, round(canvas.shape[1] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas = np.clip(cv2.resize(canvas, (cols, rows), interpolation=interpolation), 0, 1)
    if pen:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(pen) + 1,) * 2)
        canvas = cv2.dilate(canvas, kernel) if pen > 0 else cv2.erode(canvas, kernel)
    pad = math.ceil(abs(shear) * rows) + 4
    return slant_and_turn(np.pad(canvas, pad), shear, angle, pad)
