"""Handwriting fonts for the judge: their digits are positives beyond MNIST's writers, their
letters that look like no digit are negatives (words a camera sees beside numbers).

``glyphs.npz`` holds the digits and those letters of 27 handwriting and school fonts from
Debian's packages (none of them the reading benchmark's), rendered once by
``scripts/render_glyphs.py`` and committed, so training needs no fonts and every machine
trains on the same pixels. The fonts of ``THRESHOLD_PACKAGES`` are never trained on: the
threshold choice (``train/threshold.py``) reads their numbers and words as a stranger's
handwriting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from camera_demo.paper import restroke, slant_and_turn
from runtime.images import require_opencv

GLYPHS_FILE = Path(__file__).with_name("glyphs.npz")
DIGITS = "0123456789"
# Letters and signs no digit resembles (no o, l, i, s, z, b, g, q, ...; no u, y or U either:
# an open 4 as many write it is a u or y with a bar): a candidate that looks like a digit must
# stay acceptable; the reader rejects words by their context instead.
LETTERS = "acdefhkmnprtvwxACEFHKLMNPRVWXY#%&@*+=?"
# Single-font packages of different hands (casual marker, thin script, school print, brush
# script, bold script), kept out of training for the threshold choice.
THRESHOLD_PACKAGES = ("fonts-breip", "fonts-kristi", "fonts-seto", "fonts-havana", "fonts-lobster")
# Each font is rendered at the size that makes its digits about this tall (median ink height),
# so that drawing them at any smaller height only ever shrinks their pixels.
RENDERED_HEIGHT = 96


@dataclass(frozen=True)
class Glyphs:
    """Every font's digits and letters as ink (float32 0..1, cut to the ink), by font index
    and character, and each glyph's ink height above the baseline (px)."""

    digits: list[dict[str, np.ndarray]]
    letters: list[dict[str, np.ndarray]]
    above: list[dict[str, int]]
    font_names: list[str]

    def package(self, font: int) -> str:
        """The Debian package the font comes from."""
        return self.font_names[font].split(" (", 1)[1].split()[0]

    def digit_height(self, font: int) -> float:
        """The median ink height of the font's digits."""
        return float(np.median([ink.shape[0] for ink in self.digits[font].values()]))


@lru_cache(maxsize=1)
def load() -> Glyphs:
    """The committed glyphs (read once per process)."""
    with np.load(GLYPHS_FILE) as data:
        pixels, shapes, chars, fonts = data["pixels"], data["shapes"], data["chars"], data["fonts"]
        above_baseline = data["above"]
        names = [str(name) for name in data["font_names"]]
    digits: list[dict[str, np.ndarray]] = [{} for _ in names]
    letters: list[dict[str, np.ndarray]] = [{} for _ in names]
    above: list[dict[str, int]] = [{} for _ in names]
    start = 0
    for (height, width), char, font, up in zip(shapes, chars, fonts, above_baseline, strict=True):
        ink = pixels[start : start + height * width].reshape(height, width)
        start += height * width
        kind = digits if str(char) in DIGITS else letters
        kind[font][str(char)] = ink.astype(np.float32) / 255.0
        above[font][str(char)] = int(up)
    return Glyphs(digits, letters, above, names)


def _fonts(held_out_for_threshold: bool) -> list[int]:
    glyphs = load()
    return [
        font
        for font in range(len(glyphs.font_names))
        if (glyphs.package(font) in THRESHOLD_PACKAGES) == held_out_for_threshold
    ]


def training_fonts() -> list[int]:
    """The fonts the judge trains on (all but those of ``THRESHOLD_PACKAGES``)."""
    return _fonts(held_out_for_threshold=False)


def threshold_fonts() -> list[int]:
    """The fonts only the threshold choice reads (those of ``THRESHOLD_PACKAGES``)."""
    return _fonts(held_out_for_threshold=True)


def digit_coverage(
    digit: int, height: float, font: int, shear: float = 0.0, angle: float = 0.0, pen: int = 0
) -> np.ndarray:
    """Ink coverage 0..1 of ``digit`` in handwriting font ``font`` (an index of ``load()``),
    scaled as the font's digits are ``height`` px tall, made bolder by ``pen`` px, slanted by
    ``shear`` (x per y) and turned by ``angle`` degrees; cropped to its ink."""
    glyphs = load()
    ink = _scaled(glyphs.digits[font][str(digit)], height / glyphs.digit_height(font))
    return _styled(ink, shear, angle, pen)


def word_coverage(
    text: str,
    height: float,
    font: int,
    gaps: Sequence[float],
    shear: float = 0.0,
    angle: float = 0.0,
    pen: int = 0,
) -> np.ndarray:
    """Ink coverage 0..1 of the letters ``text`` (each in ``load().letters[font]``) set on one
    baseline in font ``font`` as big as its digits ``height`` px tall, letter ``i`` and ``i +
    1`` apart by ``gaps[i]`` x ``height`` px (negative: they touch or overlap), styled as
    ``digit_coverage``; cropped to its ink."""
    glyphs = load()
    scale = height / glyphs.digit_height(font)
    inks = [_scaled(glyphs.letters[font][char], scale) for char in text]
    ups = [round(glyphs.above[font][char] * scale) for char in text]
    top = max(ups)
    rows = max(top - up + ink.shape[0] for ink, up in zip(inks, ups, strict=True))
    lefts = [0]
    for ink, gap in zip(inks[:-1], gaps, strict=False):
        lefts.append(max(0, lefts[-1] + ink.shape[1] + round(gap * height)))
    line = np.zeros((rows, max(x + ink.shape[1] for x, ink in zip(lefts, inks, strict=True))))
    for ink, up, x in zip(inks, ups, lefts, strict=True):
        y = top - up
        window = line[y : y + ink.shape[0], x : x + ink.shape[1]]
        np.maximum(window, ink, out=window)
    return _styled(line.astype(np.float32), shear, angle, pen)


def _scaled(ink: np.ndarray, scale: float) -> np.ndarray:
    cv2 = require_opencv()
    rows = max(1, round(ink.shape[0] * scale))
    cols = max(1, round(ink.shape[1] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.clip(cv2.resize(ink, (cols, rows), interpolation=interpolation), 0, 1)


def _styled(ink: np.ndarray, shear: float, angle: float, pen: int) -> np.ndarray:
    pad = max(pen, 0) + math.ceil(abs(shear) * ink.shape[0]) + 4  # room for the pen and the slant
    return slant_and_turn(restroke(np.pad(ink, pad), pen), shear, angle, pad)
