"""``lowres``: the same MNIST test digits photographed clean and degraded, single-digit path.

Each digit is drawn dark on light paper at 112 px (MNIST's 28x28 scaled 4x, the digit about
80 px tall) in the middle of a 128x128 photo, and photographed lightly. Conditions, all on the same digit and the
same paper, light and noise: ``clean``; ``lowres`` (the digit shrunk to 8-12 px tall, then
enlarged back with bilinear or bicubic interpolation); ``thick`` (strokes dilated by a 5-11
px disc, a marker); ``blurred`` (Gaussian blur, sigma 2.5-4.5 px); ``tight`` (the clean photo
cut at the box of its ink, as a program that finds digits itself hands them over: no paper
around the digit). Index ``i`` is the i-th digit of a fixed shuffle of the split's half of
the MNIST test set.
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.corpora.items import Item, item_rng, split_rng
from benchmarks.corpora.mnist_digits import split_indices
from benchmarks.corpora.photo import Camera, blank_page, ink_points, paint, paper_color, pen
from benchmarks.corpora.sources import Sources

NAME = "lowres"
SIZE = 1000  # digits; each gives one item per condition
MOST = 5000  # the split's half of the MNIST test set
NEEDS = ("mnist",)
CONDITIONS = ("clean", "lowres", "thick", "blurred", "tight")
SIDE = 112
PHOTO = 128
LIGHTLY = Camera(
    degrees=1.5,
    skew=0.01,
    exposure=(0.85, 1.02),
    gradient=0.15,
    vignette=0.1,
    shadow=0.0,
    blur=(0.0, 0.5),
    noise=(1.0, 3.0),
    jpeg=(85, 95),
)
_ORDER: dict[str, np.ndarray] = {}


def digit_order(split: str) -> np.ndarray:
    """The split's MNIST test indices in the fixed order the corpus takes them."""
    if split not in _ORDER:
        _ORDER[split] = split_rng(NAME, split).permutation(split_indices(split))
    return _ORDER[split]


def degrade(alpha: np.ndarray, condition: str, rng: np.random.Generator) -> np.ndarray:
    """The ink coverage ``alpha`` (float32 0..1, SIDE x SIDE) under ``condition``."""
    if condition in ("clean", "tight"):
        return alpha
    if condition == "lowres":
        rows = np.flatnonzero(alpha.max(axis=1) > 0.05)
        scale = rng.uniform(8, 12) / (rows[-1] - rows[0] + 1)
        small = max(2, round(SIDE * scale))
        tiny = cv2.resize(alpha, (small, small), interpolation=cv2.INTER_AREA)
        method = cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_CUBIC
        return np.clip(cv2.resize(tiny, (SIDE, SIDE), interpolation=method), 0.0, 1.0)
    if condition == "thick":
        size = int(rng.choice([5, 7, 9, 11]))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        return cv2.dilate(alpha, disc)
    if condition == "blurred":
        return cv2.GaussianBlur(alpha, (0, 0), rng.uniform(2.5, 4.5))
    raise ValueError(f"unknown condition {condition!r}")


def make(split: str, index: int, sources: Sources) -> list[Item]:
    """The four items (one per condition) of digit ``index`` of ``split``."""
    images, labels = sources.mnist_test()
    source = int(digit_order(split)[index])
    alpha = cv2.resize(images[source], (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    alpha = alpha.astype(np.float32) / 255.0
    items = []
    for number, condition in enumerate(CONDITIONS):
        # The photo's stream is the same for every condition: same paper, pen, light, noise.
        photo_rng = item_rng(NAME, split, index, 0)
        page = blank_page(PHOTO, PHOTO, paper_color(photo_rng), photo_rng)
        color, opacity = pen(photo_rng)
        ink = degrade(alpha, condition, item_rng(NAME, split, index, 1 + number))
        offset = (PHOTO - SIDE) // 2
        paint(page, ink * opacity, color, offset, offset)
        # The clean digit's ink fixes the geometry, so every condition gets the same one.
        inks = [ink_points(alpha, offset, offset)]
        photo, boxes = LIGHTLY.shoot(page, photo_rng, inks, margin=3)
        if condition == "tight":
            x, y, w, h = boxes[0]
            photo = np.ascontiguousarray(photo[y : y + h, x : x + w])
        items.append(
            Item(
                NAME,
                split,
                index,
                photo,
                str(int(labels[source])),
                single=True,
                tags=(("condition", condition),),
                sources=(source,),
                pair=index,
            )
        )
    return items
