"""Scoring readings against the truth: edit distance, per-item outcomes, table rows.

A frame's digits are scored as strings: per-digit accuracy is 1 - (total edit distance) /
(total truth digits), so a missed, extra or wrong digit each costs one. Boxes are used only
to say where errors come from (``breakdown``): a truth digit is ``right``, ``misread``
(accepted as another digit), ``rejected`` (found, not accepted), ``missed`` (no region),
``split`` (two or more regions) or ``merged`` (one region over two or more truth digits);
accepted regions over no truth digit are ``extra``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.corpora.items import Box, Item

CATEGORIES = ("right", "misread", "rejected", "missed", "split", "merged")
# A region belongs to a truth digit when their overlap covers this share of the smaller box.
OVERLAP = 0.5


@dataclass(frozen=True, eq=False)
class ReadDigit:
    """One digit the kit reported: its box (None for single-digit photos), prediction and
    the 28x28 image it classified (when the API exposes it)."""

    box: Box | None
    digit: int
    confidence: float
    accepted: bool
    image: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Reading:
    """What the kit read: ``text`` (accepted digits in reading order) and every digit it
    classified; ``found`` is False when a single-digit photo held no digit for it."""

    text: str
    digits: tuple[ReadDigit, ...] = ()
    found: bool = True


@dataclass
class Outcome:
    """One item's result."""

    item: Item
    read: str
    distance: int
    ms: float
    top1: bool | None = None  # single-digit photos: the best guess was right
    accepted_correct: bool | None = None
    found: bool = True
    categories: Counter[str] = field(default_factory=Counter)
    extra: int = 0


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings.

    A two-row dynamic programme: no Levenshtein library is among the kit's dependencies, and
    numbers here have at most a few digits."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def overlap(a: Box, b: Box) -> float:
    """Intersection area over the smaller box's area."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a[2] * a[3], b[2] * b[3])


def breakdown(truth: str, boxes: Sequence[Box], reading: Reading) -> tuple[Counter[str], int]:
    """Each truth digit's category (see the module doc) and the number of extra accepted digits."""
    regions = [digit for digit in reading.digits if digit.box is not None]
    links = [
        [r for r, region in enumerate(regions) if overlap(box, region.box) >= OVERLAP]
        for box in boxes
    ]
    owners = Counter(r for linked in links for r in linked)
    categories: Counter[str] = Counter()
    for char, linked in zip(truth, links, strict=True):
        if not linked:
            categories["missed"] += 1
        elif len(linked) > 1:
            categories["split"] += 1
        elif owners[linked[0]] > 1:
            categories["merged"] += 1
        elif not regions[linked[0]].accepted:
            categories["rejected"] += 1
        elif str(regions[linked[0]].digit) == char:
            categories["right"] += 1
        else:
            categories["misread"] += 1
    extra = sum(1 for r, region in enumerate(regions) if region.accepted and r not in owners)
    return categories, extra


def score(item: Item, reading: Reading, ms: float) -> Outcome:
    """The outcome of reading ``item`` as ``reading`` in ``ms`` milliseconds."""
    outcome = Outcome(item, reading.text, edit_distance(item.text, reading.text), ms)
    if item.single:
        best = reading.digits[0] if reading.digits else None
        outcome.found = reading.found
        outcome.top1 = best is not None and str(best.digit) == item.text
        outcome.accepted_correct = outcome.top1 and best is not None and best.accepted
    elif item.boxes:
        outcome.categories, outcome.extra = breakdown(item.text, item.boxes, reading)
    return outcome


def failed(outcome: Outcome) -> bool:
    """Whether the item was read wrong (for a single digit: not accepted-and-correct)."""
    if outcome.item.single:
        return not outcome.accepted_correct
    return outcome.read != outcome.item.text


@dataclass
class Row:
    """One line of the results table: a corpus, or one ``group`` of it such as
    ``"font: Klee One"`` (None: does not apply)."""

    corpus: str
    group: str | None
    items: int
    digits: int
    per_digit: float | None
    exact: float | None
    accepted_correct: float | None
    false_per_frame: float | None
    gap_to_clean: float | None
    ms: float

    @property
    def label(self) -> str:
        """The row's name in the table: the corpus, or its group indented."""
        return self.corpus if self.group is None else f"  {self.group}"


def summarize(corpus: str, group: str | None, outcomes: Sequence[Outcome]) -> Row:
    """The table row for ``outcomes``: per-digit accuracy (top-1 for single digits, edit
    distance for frames), exact-number rate, accepted-and-correct rate (single digits),
    false digits per frame (digit-free frames), mean reading time."""
    digits = sum(len(o.item.text) for o in outcomes)
    ms = float(np.mean([o.ms for o in outcomes]))
    singles = [o for o in outcomes if o.item.single]
    if singles and len(singles) == len(outcomes):
        return Row(
            corpus,
            group,
            len(outcomes),
            digits,
            _mean(o.top1 for o in outcomes),
            None,
            _mean(o.accepted_correct for o in outcomes),
            None,
            None,
            ms,
        )
    if digits == 0:  # digit-free frames
        return Row(
            corpus,
            group,
            len(outcomes),
            0,
            None,
            _mean(o.read == "" for o in outcomes),
            None,
            float(np.mean([len(o.read) for o in outcomes])),
            None,
            ms,
        )
    return Row(
        corpus,
        group,
        len(outcomes),
        digits,
        1.0 - sum(o.distance for o in outcomes) / digits,
        _mean(o.read == o.item.text for o in outcomes),
        None,
        None,
        None,
        ms,
    )


def gap_to_clean(outcomes: Sequence[Outcome], condition: str) -> float | None:
    """Top-1 accuracy under ``condition`` minus that of the same digits clean (points)."""
    by_pair: dict[int, dict[str, bool]] = {}
    for o in outcomes:
        if o.item.pair is not None:
            by_pair.setdefault(o.item.pair, {})[dict(o.item.tags)["condition"]] = bool(o.top1)
    pairs = [p for p in by_pair.values() if "clean" in p and condition in p]
    if not pairs:
        return None
    return 100.0 * (np.mean([p[condition] for p in pairs]) - np.mean([p["clean"] for p in pairs]))


def _mean(values) -> float:
    return float(np.mean([bool(v) for v in values]))
