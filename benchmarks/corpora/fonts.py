"""The fonts the corpora write with, found by file path, and glyphs rendered with Pillow.

Six handwriting fonts from Debian packages play the writers the model never saw (measuring
only: the kit must never train on them); DejaVu plays printed text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FONT_ROOTS = (Path("/usr/share/fonts"),)
"""Where Debian installs fonts; the env var ``DIGIT_KIT_FONT_ROOT`` replaces it."""


@dataclass(frozen=True)
class FontFile:
    """A font the benchmark needs: a display name, the apt package and its path under a root."""

    name: str
    package: str
    path: str


HANDWRITING = (
    FontFile("Humor Sans", "fonts-humor-sans", "truetype/humor-sans/Humor-Sans.ttf"),
    FontFile("Klee One", "fonts-klee", "truetype/klee/KleeOne-Regular.ttf"),
    FontFile("Rufscript", "fonts-rufscript", "truetype/rufscript/Rufscript010.ttf"),
    FontFile("Yusei Magic", "fonts-yusei-magic", "truetype/yusei-magic/YuseiMagic-Regular.ttf"),
    FontFile("Comic Neue", "fonts-comic-neue", "opentype/comic-neue/ComicNeue-Regular.otf"),
    FontFile("Kiloji", "fonts-kiloji", "truetype/kiloji/kiloji.ttf"),
)
PRINTED = (
    FontFile("DejaVu Sans", "fonts-dejavu-core", "truetype/dejavu/DejaVuSans.ttf"),
    FontFile("DejaVu Serif", "fonts-dejavu-core", "truetype/dejavu/DejaVuSerif.ttf"),
    FontFile("DejaVu Sans Bold", "fonts-dejavu-core", "truetype/dejavu/DejaVuSans-Bold.ttf"),
)


class FontsMissingError(RuntimeError):
    """Font files the benchmark needs are not installed."""


def font_roots() -> tuple[Path, ...]:
    """The directories searched for fonts: ``$DIGIT_KIT_FONT_ROOT`` or ``/usr/share/fonts``."""
    override = os.environ.get("DIGIT_KIT_FONT_ROOT")
    return (Path(override),) if override else FONT_ROOTS


def locate(fonts: tuple[FontFile, ...], roots: tuple[Path, ...] | None = None) -> dict[str, Path]:
    """Map each font's name to its file, or raise ``FontsMissingError`` naming the packages."""
    roots = font_roots() if roots is None else roots
    found: dict[str, Path] = {}
    missing: list[FontFile] = []
    for font in fonts:
        path = next((root / font.path for root in roots if (root / font.path).is_file()), None)
        if path is None:
            missing.append(font)
        else:
            found[font.name] = path
    if missing:
        packages = sorted({font.package for font in missing})
        files = ", ".join(font.path for font in missing)
        where = ", ".join(str(root) for root in roots)
        raise FontsMissingError(
            f"the reading benchmark needs fonts that are not installed ({files} under {where}); "
            f"install them with: sudo apt-get install {' '.join(packages)}"
        )
    return found


@lru_cache(maxsize=32)
def truetype(path: Path, size: int):
    """A Pillow font object at ``size`` px (a small cache: each face holds ~0.5 MB and
    opening one takes well under a millisecond)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def render(
    path: Path,
    text: str,
    size: int,
    stroke: int = 0,
    shear: float = 0.0,
    degrees: float = 0.0,
) -> np.ndarray:
    """``text`` as a float32 ink alpha (0..1), cropped to its ink with a 1 px border.

    ``size``: font size in px; ``stroke``: extra pen width in px (Pillow's outline);
    ``shear``: slant, the top leaning right for shear > 0; ``degrees``: rotation,
    counter-clockwise."""
    from PIL import Image, ImageDraw

    font = truetype(path, size)
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    pad = 2 + stroke + int(abs(shear) * (bottom - top))
    canvas = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(canvas).text(
        (pad - left, pad - top), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    if shear:
        width, height = canvas.size
        # Pillow's affine maps output to input pixels: x_in = x_out + shear * (y_out - h/2),
        # so the top leans right for shear > 0 and the middle row stays in place.
        canvas = canvas.transform(
            (width, height),
            Image.Transform.AFFINE,
            (1.0, shear, -shear * height / 2, 0.0, 1.0, 0.0),
            resample=Image.Resampling.BICUBIC,
        )
    if degrees:
        canvas = canvas.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
    return crop_to_ink(np.asarray(canvas, dtype=np.float32) / 255.0)


def crop_to_ink(alpha: np.ndarray, level: float = 0.05, border: int = 1) -> np.ndarray:
    """``alpha`` cut to the box of its values above ``level``, plus ``border`` px."""
    rows = np.flatnonzero(alpha.max(axis=1) > level)
    cols = np.flatnonzero(alpha.max(axis=0) > level)
    if len(rows) == 0:
        raise ValueError("nothing drawn")
    top, bottom = max(0, rows[0] - border), min(alpha.shape[0], rows[-1] + 1 + border)
    left, right = max(0, cols[0] - border), min(alpha.shape[1], cols[-1] + 1 + border)
    return alpha[top:bottom, left:right]


@lru_cache(maxsize=256)
def height_ratio(path: Path, text: str) -> float:
    """Ink height of ``text`` per px of font size, to draw glyphs at a chosen ink height."""
    return (render(path, text, 200).shape[0] - 2) / 200.0


def render_height(path: Path, text: str, height: float, **style: float) -> np.ndarray:
    """``render`` with the font size that gives ``text`` about ``height`` px of ink."""
    size = max(6, round(height / height_ratio(path, text)))
    return render(path, text, size, **style)
