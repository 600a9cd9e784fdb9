"""``optdigits``: other writers' digits stored at 8x8 (UCI optdigits), enlarged and photographed.

Real handwriting of people outside MNIST: the test set of UCI's "Optical Recognition of
Handwritten Digits" (1,797 digits of 13 writers, from NIST's forms), which scikit-learn ships
as ``load_digits``. Each digit was stored as an 8x8 block count of its 32x32 bitmap, so
every item is a digit 8 px tall enlarged by a program (bilinear, bicubic or nearest
neighbour, at random), drawn dark on paper about 88 px tall and photographed lightly, read by
the single-digit path. The file holds 14 runs of the same form's digit sequence, one per form
filled in; the splits are whole forms: tune the first 7 (915 digits), report the last 7 (882),
so they most likely share no writer.
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.corpora.items import Item, check_split, item_rng
from benchmarks.corpora.lowres import LIGHTLY, PHOTO
from benchmarks.corpora.photo import blank_page, ink_points, paint, paper_color, pen
from benchmarks.corpora.sources import Sources

NAME = "optdigits"
# Where the 8th form starts: the file's 8th run of the form's opening "0123456789012".
REPORT_START = 915
COUNT = 1797
SIZE = COUNT - REPORT_START  # each split reads all of its forms
TUNE_SIZE = REPORT_START
MOST = {"tune": TUNE_SIZE, "report": SIZE}
NEEDS = ("optdigits",)
ENLARGED = {
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "nearest": cv2.INTER_NEAREST,
}
_SIDE = (80, 96)  # the enlarged digit's height range, px


def split_range(split: str) -> range:
    """The dataset indices a split reads, in the file's order."""
    return range(0, REPORT_START) if check_split(split) == "tune" else range(REPORT_START, COUNT)


def make(split: str, index: int, sources: Sources) -> list[Item]:
    """Item ``index`` of ``split``."""
    images, labels = sources.optdigits()
    source = split_range(split)[index]
    rng = item_rng(NAME, split, index)
    method = str(rng.choice(list(ENLARGED)))
    side = int(rng.integers(*_SIDE, endpoint=True))
    coverage = images[source].astype(np.float32) / 16.0
    alpha = np.clip(cv2.resize(coverage, (side, side), interpolation=ENLARGED[method]), 0.0, 1.0)
    page = blank_page(PHOTO, PHOTO, paper_color(rng), rng)
    color, opacity = pen(rng)
    offset = (PHOTO - side) // 2
    paint(page, alpha * opacity, color, offset, offset)
    photo, _ = LIGHTLY.shoot(page, rng, [ink_points(alpha, offset, offset)], margin=3)
    return [
        Item(
            NAME,
            split,
            index,
            photo,
            str(int(labels[source])),
            single=True,
            tags=(("enlarged", method),),
            sources=(source,),
        )
    ]
