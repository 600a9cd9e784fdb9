"""``optdigits``: other writers' digits stored at 8x8 (UCI optdigits), enlarged and photographed.

Real handwriting of people outside MNIST: the test set of UCI's "Optical Recognition of
Handwritten Digits" (1,797 digits of 13 writers, from NIST's forms), which scikit-learn ships
as ``load_digits``. Each digit was stored as an 8x8 block count of its 32x32 bitmap, so
every item is a digit 8 px tall enlarged by a program (bilinear, bicubic or nearest
neighbour, at random), drawn dark on paper about 88 px tall and photographed lightly, read by
the single-digit path. The file holds 14 filled-in forms, one after the other, each the same
sequence of 130 digits (a few left out); the splits are whole forms: tune the first 7 (906
digits), report the last 7 (891). UCI names 13 writers, so one of them filled in two forms,
which may fall in different splits.
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.corpora.items import Item, check_split, item_rng
from benchmarks.corpora.lowres import LIGHTLY, PHOTO
from benchmarks.corpora.photo import blank_page, ink_points, paint, paper_color, pen
from benchmarks.corpora.sources import Sources

NAME = "optdigits"
# Where the 8th form starts (its first digit, a 0, left out): the 7th ends with the form's
# whole sequence.
REPORT_START = 906
FORM_LENGTH = 130
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
