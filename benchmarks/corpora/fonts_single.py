"""``fonts-single``: one digit per photo in a handwriting font, read by ``predict(photo)``.

Each photo (60-200 px high) is like a cell cut from a page or a sticky note: the digit
fills 45-75% of its height, written with a random pen weight, slant and tilt, then
photographed (tint, light, a little rotation and perspective, blur, noise, JPEG).
Index ``i`` shows digit ``(i // 6) % 10`` in font ``i % 6``: any 60 items cover the grid.
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.corpora.fonts import render_height
from benchmarks.corpora.items import Item, item_rng
from benchmarks.corpora.photo import Camera, blank_page, ink_points, paint, paper_color, pen
from benchmarks.corpora.sources import Sources

NAME = "fonts-single"
SIZE = 1200  # 6 fonts x 10 digits x 20 variations
NEEDS = ("handwriting",)
CAMERA = Camera(degrees=4.0, skew=0.03, shadow=0.2, blur=(0.2, 0.9), noise=(1.5, 5.0))


def make(split: str, index: int, sources: Sources) -> list[Item]:
    """Item ``index`` of ``split``."""
    fonts = sources.handwriting()
    name = list(fonts)[index % len(fonts)]
    digit = (index // len(fonts)) % 10
    rng = item_rng(NAME, split, index)
    height = int(rng.integers(60, 201))
    width = round(height * rng.uniform(0.8, 1.25))
    ink_height = height * rng.uniform(0.45, 0.75)
    alpha = render_height(
        fonts[name],
        str(digit),
        ink_height,
        stroke=int(rng.integers(0, round(0.03 * ink_height) + 1)),
        shear=float(rng.uniform(-0.2, 0.2)),
        degrees=float(rng.uniform(-5, 5)),
    )
    fit = min(1.0, (height - 6) / alpha.shape[0], (width - 6) / alpha.shape[1])
    if fit < 1.0:  # a wide glyph in a narrow photo: shrink it rather than cut it
        size = (max(1, int(alpha.shape[1] * fit)), max(1, int(alpha.shape[0] * fit)))
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    room_x, room_y = width - alpha.shape[1], height - alpha.shape[0]
    x = int(np.clip(room_x / 2 + rng.uniform(-0.12, 0.12) * width, 2, room_x - 2))
    y = int(np.clip(room_y / 2 + rng.uniform(-0.1, 0.1) * height, 2, room_y - 2))
    page = blank_page(height, width, paper_color(rng, sticky_notes=True), rng)
    color, opacity = pen(rng)
    paint(page, alpha * opacity, color, x, y)
    photo, _ = CAMERA.shoot(page, rng, [ink_points(alpha, x, y)], margin=1)
    return [Item(NAME, split, index, photo, str(digit), single=True, tags=(("font", name),))]
