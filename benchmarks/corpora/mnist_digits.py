"""MNIST test digits for the corpora: one half of the test set per split, and digits as ink.

The halves follow MNIST's own order: indices 0-4999 (tune) and 5000-9999 (report), which
MNIST's documentation says were drawn from different NIST collections, so the splits share no
digit and most likely no writer. The halves are not equally hard (for the kit's models the
tune half has more errors even as plain MNIST), so compare a split's numbers only with the
same split's.
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.corpora.items import check_split

TEST_HALVES = {"tune": (0, 5000), "report": (5000, 10000)}


def split_indices(split: str) -> np.ndarray:
    """The MNIST test indices a split draws from."""
    start, stop = TEST_HALVES[check_split(split)]
    return np.arange(start, stop)


def ink_alpha(digit: np.ndarray, height: float) -> np.ndarray:
    """An MNIST digit (28x28 uint8, white on black) as ink coverage (float32 0..1), cropped to
    its ink and scaled to ``height`` px tall, keeping its aspect ratio."""
    rows = np.flatnonzero(digit.max(axis=1))
    cols = np.flatnonzero(digit.max(axis=0))
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32) / 255.0
    scale = height / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(height)))
    return np.clip(cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
