"""``fonts-numbers``: 640x480 photos of one number (1-6 digits) in a handwriting font.

Digits 40-140 px tall, each glyph with its own small size, tilt and baseline wobble, the
whole number slanted and written with one pen weight; on plain paper or on ruled paper
(sitting on a line, the rule spacing 0.75-1.4x the digit height, sometimes a margin line);
then photographed. Index ``i`` uses font ``i % 6``.
"""

from __future__ import annotations

import numpy as np

from benchmarks.corpora.fonts import render_height
from benchmarks.corpora.items import Item, item_rng
from benchmarks.corpora.layout import row_width, write_row
from benchmarks.corpora.paper import draw_margin, draw_ruled
from benchmarks.corpora.photo import Camera, blank_page, paper_color, pen
from benchmarks.corpora.sources import Sources

NAME = "fonts-numbers"
SIZE = 360  # 60 per font
NEEDS = ("handwriting",)
FRAME = (480, 640)
MARGIN = 30
MIN_HEIGHT, MAX_HEIGHT = 40.0, 140.0  # digit ink height, px
CAMERA = Camera()


def make(split: str, index: int, sources: Sources) -> list[Item]:
    """Item ``index`` of ``split``."""
    fonts = sources.handwriting()
    name = list(fonts)[index % len(fonts)]
    rng = item_rng(NAME, split, index)
    text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 7))))
    height = rng.uniform(MIN_HEIGHT, MAX_HEIGHT)
    sizes = rng.uniform(0.92, 1.06, len(text))
    tilts = rng.uniform(-4, 4, len(text))
    gaps = rng.uniform(0.06, 0.3, len(text) - 1)
    shear = float(rng.uniform(-0.2, 0.2))
    weight = float(rng.uniform(0, 0.03))
    frame_h, frame_w = FRAME
    for _ in range(4):  # shrink until the number fits the frame
        alphas = [
            render_height(
                fonts[name],
                char,
                float(np.clip(height * size, MIN_HEIGHT, MAX_HEIGHT)),
                stroke=round(weight * height),
                shear=shear,
                degrees=float(tilt),
            )
            for char, size, tilt in zip(text, sizes, tilts, strict=True)
        ]
        width = row_width(alphas, gaps * height)
        if width <= frame_w - 2 * MARGIN:
            break
        height *= 0.97 * (frame_w - 2 * MARGIN) / width
    page = blank_page(frame_h, frame_w, paper_color(rng), rng)
    tallest = max(alpha.shape[0] for alpha in alphas)
    x = rng.uniform(MARGIN, max(MARGIN, frame_w - MARGIN - width))
    baseline = rng.uniform(MARGIN + tallest * 1.1, frame_h - MARGIN - 0.1 * height)
    ruled = rng.random() < 0.5
    if ruled:
        spacing = height * rng.uniform(0.75, 1.4)
        sits = rng.uniform(0.0, 0.12) * height  # the digits sit just above their line
        draw_ruled(page, rng, spacing, phase=baseline + sits)
        if x > MARGIN + 25 and rng.random() < 0.4:
            draw_margin(page, rng, rng.uniform(MARGIN, x - 15))
    color, opacity = pen(rng)
    inks = write_row(page, alphas, gaps * height, x, baseline, color, opacity, rng)
    photo, boxes = CAMERA.shoot(page, rng, inks)
    tags = (("font", name), ("paper", "ruled" if ruled else "plain"))
    return [Item(NAME, split, index, photo, text, boxes=tuple(boxes), tags=tags)]
