"""What every corpus yields: an ``Item`` with its ground truth, and the seeds behind it.

Each item is drawn from its own random generator, seeded by (corpus, split, index), so an
item never depends on how many others were generated (``--limit`` gives a prefix of the
same items) and the ``tune`` and ``report`` splits never share a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from runtime.segment import MIN_HEIGHT

Box = tuple[int, int, int, int]
"""(x, y, w, h) in image pixels, as ``runtime`` reports boxes."""

SPLITS = ("tune", "report")
# Keys mixed into every seed. Changing one changes that corpus's items: don't.
_BENCH_KEY = 9_07
_SPLIT_KEYS = {"tune": 1, "report": 2}
_CORPUS_KEYS = {
    "fonts-single": 1,
    "fonts-numbers": 2,
    "camera": 3,
    "digit-free": 4,
    "lowres": 5,
    "fonts-notes": 6,
    "optdigits": 7,
    "fonts-pages": 8,
}
# Fourth seed element: one item's stream, or one stream for the whole split.
_ITEM, _WHOLE_SPLIT = 1, 2


@dataclass(frozen=True, eq=False)
class Item:
    """One benchmark input and its ground truth.

    ``image``: BGR uint8. ``text``: the digits it shows in reading order ("" for a digit-free
    frame). ``boxes``: each truth digit's ink box in image pixels (empty for single-digit
    photos, which are read whole). ``single``: read by the single-digit path.
    ``tags``: (key, value) pairs the table groups sub-rows by. ``sources``: the MNIST test
    indices drawn (MNIST-based corpora). ``pair``: items sharing it show the same digit under
    different conditions (the low-resolution corpus). ``min_height``: the smallest digit searched
    for, as a fraction of the image's height (``read_number``'s)."""

    corpus: str
    split: str
    index: int
    image: np.ndarray
    text: str
    boxes: tuple[Box, ...] = ()
    single: bool = False
    tags: tuple[tuple[str, str], ...] = ()
    sources: tuple[int, ...] = field(default=())
    pair: int | None = None
    min_height: float = MIN_HEIGHT

    def without_image(self) -> Item:
        """The same item with an empty image: its truth, kept after reading at little cost."""
        return replace(self, image=np.zeros((0, 0, 3), np.uint8))


def check_split(split: str) -> str:
    """``split`` if it names a split, else ``ValueError``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def item_seed(corpus: str, split: str, index: int, *extra: int) -> tuple[int, ...]:
    """The seed of one item (``extra`` picks a sub-stream of it); distinct per split."""
    if index < 0 or any(value < 0 for value in extra):
        raise ValueError("seed parts must be non-negative")
    split_key = _SPLIT_KEYS[check_split(split)]
    return (_BENCH_KEY, _CORPUS_KEYS[corpus], split_key, _ITEM, index, *extra)


def item_rng(corpus: str, split: str, index: int, *extra: int) -> np.random.Generator:
    """The random generator of one item (see ``item_seed``)."""
    return np.random.default_rng(item_seed(corpus, split, index, *extra))


def split_rng(corpus: str, split: str) -> np.random.Generator:
    """One generator for choices about a whole split (such as the order of its MNIST digits)."""
    split_key = _SPLIT_KEYS[check_split(split)]
    return np.random.default_rng((_BENCH_KEY, _CORPUS_KEYS[corpus], split_key, _WHOLE_SPLIT))
