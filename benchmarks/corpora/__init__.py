"""Corpora for the reading benchmark: inputs the kit neither trains on nor is tuned against.

Every generator here is written from scratch (OpenCV, NumPy, Pillow) and shares nothing with
the kit's own renderers (``camera_demo/synth.py``, ``tests/drawing.py``, ``train/outliers.py``,
``train/augment.py``). Each corpus has two disjoint splits, ``tune`` and ``report``: different
seeds and, for MNIST-based corpora, different halves of the MNIST test set. The same seed
gives the same images with the same versions of NumPy, OpenCV, Pillow and the fonts.

    from benchmarks.corpora import CORPORA, Sources, generate
    for item in generate("camera", "report", 10, Sources()):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from benchmarks.corpora import (
    camera,
    digit_free,
    fonts_notes,
    fonts_numbers,
    fonts_pages,
    fonts_single,
    lowres,
    optdigits,
)
from benchmarks.corpora.fonts import FontsMissingError
from benchmarks.corpora.items import SPLITS, Box, Item, check_split
from benchmarks.corpora.sources import Sources


@dataclass(frozen=True)
class Corpus:
    """A corpus: its name, default size of the report split and of the tune split (in
    ``make`` calls), item maker, and the sources it draws from (``Sources.check`` names)."""

    name: str
    size: int
    tune_size: int
    make: Callable[[str, int, Sources], list[Item]]
    needs: tuple[str, ...]
    summary: str
    most: dict[str, int]  # entries each split can hold

    def default_count(self, split: str) -> int:
        """How many entries ``generate`` reads from ``split`` by default."""
        return self.tune_size if check_split(split) == "tune" else self.size


def _most(most: int | dict[str, int]) -> dict[str, int]:
    return most if isinstance(most, dict) else dict.fromkeys(SPLITS, most)


CORPORA: dict[str, Corpus] = {
    module.NAME: Corpus(
        module.NAME,
        module.SIZE,
        getattr(module, "TUNE_SIZE", module.SIZE),
        module.make,
        module.NEEDS,
        module.__doc__.splitlines()[0].split(": ", 1)[1].rstrip("."),
        _most(getattr(module, "MOST", 1_000_000)),
    )
    for module in (
        fonts_single,
        fonts_numbers,
        fonts_notes,
        fonts_pages,
        camera,
        digit_free,
        lowres,
        optdigits,
    )
}


def generate(name: str, split: str, count: int | None, sources: Sources) -> Iterator[Item]:
    """The first ``count`` (default: the split's size) entries of corpus ``name``'s split.

    An entry is one item, except in ``lowres`` where it is one digit under every condition;
    ``lowres`` has at most 5000 (its half of the MNIST test set)."""
    corpus = CORPORA[name]
    check_split(split)
    count = corpus.default_count(split) if count is None else count
    if count > corpus.most[split]:
        raise ValueError(f"{name} has {corpus.most[split]} items in {split}; asked for {count}")
    for index in range(count):
        yield from corpus.make(split, index, sources)


__all__ = [
    "CORPORA",
    "SPLITS",
    "Box",
    "Corpus",
    "FontsMissingError",
    "Item",
    "Sources",
    "generate",
]
