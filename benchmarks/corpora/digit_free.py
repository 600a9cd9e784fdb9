"""``digit-free``: 640x480 frames a camera may see that hold no digit at all.

Kinds (index ``i`` is kind ``i % 6``): ``ruled`` notebook paper (maybe a margin line and
binder holes), ``graph`` paper, ``wood`` and ``fabric`` surfaces, ``words`` (short
handwritten lowercase words in the six handwriting fonts) and ``printed`` (a page of
DejaVu text, no digits). All photographed like the other corpora. Any digit read is false.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.corpora.fonts import render, truetype
from benchmarks.corpora.items import Item, item_rng
from benchmarks.corpora.paper import draw_grid, draw_holes, draw_margin, draw_ruled
from benchmarks.corpora.photo import Camera, blank_page, ink_points, paint, paper_color, pen
from benchmarks.corpora.sources import Sources
from benchmarks.corpora.textures import fabric, wood
from benchmarks.corpora.words import sentence, words

NAME = "digit-free"
SIZE = 360  # 60 per kind
# 300 per kind: a word rule chosen on 60 word frames read the report's words as numbers, and
# 300 of the tune split's showed it (0.197 -> 0.403 false digits per frame).
TUNE_SIZE = 1800
NEEDS = ("handwriting", "printed")
KINDS = ("ruled", "graph", "wood", "fabric", "words", "printed")
FRAME = (480, 640)
MARGIN = 30
CAMERA = Camera()
# A dark table seen through binder holes (BGR).
_BACKDROP = np.array((45, 55, 70), np.float32)

Page = tuple[np.ndarray, list[np.ndarray]]  # the page and ink that must stay in the frame


def _ruled(rng: np.random.Generator, sources: Sources) -> Page:
    page = blank_page(*FRAME, paper_color(rng), rng)
    draw_ruled(page, rng, rng.uniform(22, 45))
    if rng.random() < 0.5:
        draw_margin(page, rng, rng.uniform(50, 110))
    if rng.random() < 0.3:
        draw_holes(page, rng, rng.uniform(22, 36), _BACKDROP)
    return page, []


def _graph(rng: np.random.Generator, sources: Sources) -> Page:
    page = blank_page(*FRAME, paper_color(rng), rng)
    draw_grid(page, rng, rng.uniform(12, 32))
    return page, []


def _wood(rng: np.random.Generator, sources: Sources) -> Page:
    return wood(*FRAME, rng), []


def _fabric(rng: np.random.Generator, sources: Sources) -> Page:
    return fabric(*FRAME, rng), []


def _words(rng: np.random.Generator, sources: Sources) -> Page:
    """1-3 lines of short words in one handwriting font, as a person jots a note."""
    fonts = sources.handwriting()
    path = list(fonts.values())[int(rng.integers(len(fonts)))]
    page = blank_page(*FRAME, paper_color(rng), rng)
    size = int(rng.uniform(36, 100))
    line_gap = size * rng.uniform(1.2, 1.6)
    if rng.random() < 0.5:
        draw_ruled(page, rng, line_gap, phase=MARGIN + size)
    color, opacity = pen(rng)
    stroke = int(rng.integers(0, max(1, round(0.03 * size)) + 1))
    shear = float(rng.uniform(-0.2, 0.2))
    inks = []
    top = MARGIN + rng.uniform(0, 40)
    for _ in range(int(rng.integers(1, 4))):
        x = MARGIN + rng.uniform(0, 60)
        tallest = 0
        for word in words(rng, int(rng.integers(1, 4))):
            alpha = render(
                path, word, size, stroke=stroke, shear=shear, degrees=float(rng.uniform(-3, 3))
            )
            height, width = alpha.shape
            if x + width > FRAME[1] - MARGIN or top + height > FRAME[0] - MARGIN:
                continue
            paint(page, alpha * opacity, color, round(x), round(top))
            inks.append(ink_points(alpha, round(x), round(top)))
            x += width + size * rng.uniform(0.3, 0.6)
            tallest = max(tallest, height)
        top += max(tallest, line_gap)
    return page, inks


def _printed(rng: np.random.Generator, sources: Sources) -> Page:
    """A page of printed sentences, maybe under a bold heading, running off the frame's foot."""
    fonts = sources.printed()
    page = blank_page(*FRAME, paper_color(rng), rng)
    canvas = Image.new("L", (FRAME[1], FRAME[0]), 0)
    draw = ImageDraw.Draw(canvas)
    left = rng.uniform(20, 70)
    right = FRAME[1] - rng.uniform(20, 70)
    y = rng.uniform(10, 50)
    if rng.random() < 0.5:
        heading = truetype(fonts["DejaVu Sans Bold"], int(rng.uniform(30, 56)))
        title = " ".join(words(rng, int(rng.integers(1, 4)))).capitalize()
        draw.text((left, y), title, font=heading, fill=255)
        y += heading.size * 1.6
    body = truetype(
        fonts["DejaVu Serif" if rng.random() < 0.5 else "DejaVu Sans"], int(rng.uniform(14, 30))
    )
    spacing = body.size * rng.uniform(1.3, 1.7)
    line = ""
    while y < FRAME[0] - 4:
        for word in sentence(rng).split():
            trial = f"{line} {word}".strip()
            if left + draw.textlength(trial, font=body) <= right:
                line = trial
                continue
            draw.text((left, y), line, font=body, fill=255)
            y += spacing
            line = word
            if y >= FRAME[0] - 4:
                break
    ink = np.asarray(canvas, np.float32) / 255.0
    paint(page, ink * rng.uniform(0.85, 1.0), np.array((28, 28, 30), np.float32))
    return page, []


BUILDERS: dict[str, Callable[[np.random.Generator, Sources], Page]] = {
    "ruled": _ruled,
    "graph": _graph,
    "wood": _wood,
    "fabric": _fabric,
    "words": _words,
    "printed": _printed,
}


def make(split: str, index: int, sources: Sources) -> list[Item]:
    """Item ``index`` of ``split``."""
    kind = KINDS[index % len(KINDS)]
    rng = item_rng(NAME, split, index)
    page, inks = BUILDERS[kind](rng, sources)
    photo, _ = CAMERA.shoot(page, rng, inks)
    return [Item(NAME, split, index, photo, "", tags=(("kind", kind),))]
