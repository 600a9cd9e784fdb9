"""``camera``: 640x480 camera frames of 1-4 MNIST test digits written in a row, as a number.

Each digit's gray levels are its ink coverage (pen: black, blue or pencil grey) on tinted
paper; digits are 55-140 px tall, written side by side with gaps of 8-45% of their height,
or, in 30% of the frames with two or more digits, one pair touching (boxes overlapping 2-6
px). 60% of the pages are lined, so lines cross the digits: two in three ruled every 24-48
px, one in three squared (graph paper, 14-29 px squares, vertical lines too); some have a
margin line. Then photographed: rotation, perspective, uneven light, blur, noise, JPEG 60-90.
"""

from __future__ import annotations

import numpy as np

from benchmarks.corpora.items import Item, item_rng
from benchmarks.corpora.layout import row_width, write_row
from benchmarks.corpora.mnist_digits import ink_alpha, split_indices
from benchmarks.corpora.paper import draw_grid, draw_margin, draw_ruled
from benchmarks.corpora.photo import Camera, blank_page, paper_color, pen
from benchmarks.corpora.sources import Sources

NAME = "camera"
SIZE = 400
NEEDS = ("mnist",)
FRAME = (480, 640)
MARGIN = 30
MIN_HEIGHT, MAX_HEIGHT = 55.0, 140.0
SQUARED = 1 / 3  # the share of lined pages that are graph paper
_PAPER_STREAM = 1  # the item's sub-stream that picks ruled or squared
CAMERA = Camera(degrees=4.0)


def make(split: str, index: int, sources: Sources) -> list[Item]:
    """Item ``index`` of ``split``."""
    images, labels = sources.mnist_test()
    rng = item_rng(NAME, split, index)
    count = int(rng.integers(1, 5))
    picks = rng.choice(split_indices(split), count, replace=False)
    height = rng.uniform(MIN_HEIGHT, MAX_HEIGHT)
    sizes = rng.uniform(0.92, 1.08, count)
    gaps = rng.uniform(0.08, 0.45, count - 1) * height
    touching = count >= 2 and rng.random() < 0.3
    if touching:
        gaps[int(rng.integers(count - 1))] = -rng.uniform(2, 6)
    frame_h, frame_w = FRAME
    room = frame_w - 2 * MARGIN
    alphas = [
        ink_alpha(images[i], np.clip(height * size, MIN_HEIGHT, MAX_HEIGHT))
        for i, size in zip(picks, sizes, strict=True)
    ]
    width = row_width(alphas, gaps)
    if width > room:  # shrink the digits (never below 55 px) and their gaps to fit
        fit = room / width
        gaps = np.where(gaps > 0, gaps * fit, gaps)
        alphas = [
            ink_alpha(images[i], max(MIN_HEIGHT, alpha.shape[0] * fit))
            for i, alpha in zip(picks, alphas, strict=True)
        ]
        width = row_width(alphas, gaps)
    tallest = max(alpha.shape[0] for alpha in alphas)
    page = blank_page(frame_h, frame_w, paper_color(rng), rng)
    x = rng.uniform(MARGIN, max(MARGIN, frame_w - MARGIN - width))
    baseline = rng.uniform(MARGIN + tallest * 1.06, frame_h - MARGIN - 0.06 * tallest)
    lined = rng.random() < 0.6
    # From its own sub-stream, so the other frames stayed as they were before graph paper.
    squared = lined and item_rng(NAME, split, index, _PAPER_STREAM).random() < SQUARED
    if squared:
        draw_grid(page, rng, 0.6 * rng.uniform(24, 48))
    elif lined:
        draw_ruled(page, rng, rng.uniform(24, 48))
        if x > MARGIN + 25 and rng.random() < 0.3:
            draw_margin(page, rng, rng.uniform(MARGIN, x - 15))
    color, opacity = pen(rng)
    inks = write_row(page, alphas, gaps, x, baseline, color, opacity, rng, wobble=0.05)
    photo, boxes = CAMERA.shoot(page, rng, inks)
    text = "".join(str(int(labels[i])) for i in picks)
    spacing = "one digit" if count == 1 else "touching pair" if touching else "apart"
    paper = "graph" if squared else "ruled" if lined else "plain"
    tags = (("paper", paper), ("spacing", spacing))
    return [
        Item(
            NAME,
            split,
            index,
            photo,
            text,
            boxes=tuple(boxes),
            tags=tags,
            sources=tuple(int(i) for i in picks),
        )
    ]
