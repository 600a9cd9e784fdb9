"""Choose the acceptance threshold from held-out pages, never from the test set.

The reader accepts a candidate as a digit when the classifier's confidence reaches the
threshold, or for a 1 the stricter bar derived from it (``runtime.classifier.accepts``); the
choice below applies that same function. The threshold is
measured, not set: the reader reads held-out synthetic pages
(``train/judge_data.threshold_page``, a seed the training never drew from) exactly as a device
does (``runtime.segment``: the candidates, the choice among them, the word rule) at every
threshold of a grid, and the strictest threshold whose score the pages cannot tell from the
best is kept, anywhere on the grid (past thresholds that score clearly worse too): the
one-standard-error rule (a threshold within one standard error of the best score, paired over
pages, is one the pages cannot tell from it). The pages choose between
thresholds far apart with little confidence (the best of 300 pages moved from 0.81 to 0.99
between page draws for one model); where they cannot tell, the stricter threshold reports
fewer false digits, which the reader's users notice most. The pages show what the judge
never learned, as a stranger's page would: the validation split's MNIST digits, and numbers
and words in handwriting fonts kept out of training (``train.glyphs.THRESHOLD_PACKAGES``);
on pages like its training pages the judge rejects nearly every non-digit at any threshold,
and the threshold chosen there came out far lower than the one that reads the reading
benchmark's tune split best. The score: digits read right, minus ``FALSE_DIGIT_COST`` for every digit
reported that is not there or not what is written. That cost is the product decision,
stated once here: a false digit is as bad as three missed ones. Never below
``MIN_THRESHOLD``: the prediction must be a clear majority. ``convert`` stores the threshold
in every exported model's metadata. ``python -m benchmarks.bench_threshold_pages`` prints a
trained model's score on these pages at every threshold, with its standard error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from runtime.classifier import accepted, accepts
from runtime.segment import FrameCandidates
from train.judge_data import PlacedDigit, threshold_page

FALSE_DIGIT_COST = 3.0
MIN_THRESHOLD = 0.5
# Page seeds: the pages of a run with training seed N are drawn with seed N + PAGE_SEED_OFFSET.
PAGE_SEED_OFFSET = 1
GRID = np.concatenate([np.arange(0.5, 0.95, 0.01), np.arange(0.95, 0.9999, 0.0005)])
# Standard errors and score totals compared with this margin: equal up to float rounding.
_ROUNDING = 1e-9
# A reported digit is right when this share of a written digit's ink lies in its box and
# the label matches.
_MATCH = 0.5


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold and what the reader does with it on the held-out pages."""

    threshold: float
    pages: int
    false_digits_per_page: float
    digits_read: float  # share of the written digits read right
    mnist_digits_accepted: float  # held-out MNIST validation digits, accepted and right

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class PageReadings:
    """What the reader did on each held-out page at each threshold of ``grid``: digits read
    right and false digits, arrays of shape (pages, thresholds)."""

    grid: np.ndarray
    right: np.ndarray
    false: np.ndarray
    written: int  # digits written on all the pages

    def scores(self) -> np.ndarray:
        """Each page's score at each threshold (digits right minus ``FALSE_DIGIT_COST`` x false)."""
        return self.right - FALSE_DIGIT_COST * self.false

    def best(self) -> int:
        """The index of the threshold with the best total score (the lowest of equal scores)."""
        return int(np.argmax(self.scores().sum(axis=0)))

    def standard_errors(self) -> np.ndarray:
        """Per threshold, the standard error of its total score's difference from the best's,
        paired over pages (0 at the best; 0 everywhere with one page)."""
        scores = self.scores()
        pages = scores.shape[0]
        if pages < 2:
            return np.zeros(scores.shape[1])
        differences = scores - scores[:, [self.best()]]
        return np.sqrt(pages) * differences.std(axis=0, ddof=1)

    def within_one_se(self) -> np.ndarray:
        """Per threshold, whether its total score is within one standard error of the best
        (a threshold that differs from the best on one page only always is: its standard
        error equals its difference, compared with a margin for rounding)."""
        totals = self.scores().sum(axis=0)
        return totals >= totals[self.best()] - self.standard_errors() - _ROUNDING

    def chosen(self) -> int:
        """The index of the threshold training keeps: the strictest within one standard error
        of the best (see the module). Pages that score every threshold alike choose the top
        of the grid."""
        return int(np.flatnonzero(self.within_one_se()).max())

    def chosen_threshold(self) -> float:
        """The threshold training keeps (``chosen``), as stored: rounded, at least
        ``MIN_THRESHOLD``."""
        return max(MIN_THRESHOLD, float(round(self.grid[self.chosen()], 4)))


class _HeldOutPages:
    """The held-out pages' candidates, classified once, read at any threshold."""

    def __init__(
        self, model, pages: int, seed: int, x_val: np.ndarray, y_val: np.ndarray, first: int = 0
    ) -> None:
        from train.fit import to_inputs

        self.frames: list[tuple[FrameCandidates, list[PlacedDigit]]] = []
        for index in range(first, first + pages):
            image, placed = threshold_page(index, seed, x_val, y_val)
            self.frames.append((FrameCandidates(image), placed))
        crops = [region.image for frame, _ in self.frames for region in frame.regions]
        probabilities = model.predict(to_inputs(np.stack(crops)), batch_size=2048, verbose=0)
        counts = np.cumsum([len(frame.regions) for frame, _ in self.frames])[:-1]
        self.by_page = np.split(probabilities, counts)
        self.written = sum(len(placed) for _, placed in self.frames)

    def outcome(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Digits read right and false digits per page at ``threshold``."""
        right = np.zeros(len(self.frames), np.int64)
        false = np.zeros(len(self.frames), np.int64)
        rule = partial(accepts, threshold=threshold)
        for index, ((frame, placed), rows) in enumerate(
            zip(self.frames, self.by_page, strict=True)
        ):
            for region, row in frame.choose(rows, rule):
                digit = int(row.argmax())
                hit = any(d.label == digit and d.share_inside(region.box) >= _MATCH for d in placed)
                right[index] += hit
                false[index] += not hit
        return right, false


def read_threshold_pages(
    model, pages: int, seed: int, x_val: np.ndarray, y_val: np.ndarray, first: int = 0
) -> PageReadings:
    """What the reader does on ``pages`` held-out pages (page seed ``seed``, from page number
    ``first``: training reads those from 0) at every threshold of the grid; one batched
    ``model.predict`` for all candidates."""
    return _readings(_HeldOutPages(model, pages, seed, x_val, y_val, first))


def _readings(held_out: _HeldOutPages) -> PageReadings:
    outcomes = [held_out.outcome(float(threshold)) for threshold in GRID]
    return PageReadings(
        grid=GRID,
        right=np.stack([right for right, _ in outcomes], axis=1),
        false=np.stack([false for _, false in outcomes], axis=1),
        written=held_out.written,
    )


def choose_threshold(
    model, pages: int, seed: int, x_val: np.ndarray, y_val: np.ndarray
) -> ThresholdChoice:
    """The strictest threshold within one standard error of the best score reading ``pages``
    held-out pages (see the module); one batched ``model.predict`` for all candidates."""
    from train.fit import to_inputs

    held_out = _HeldOutPages(model, pages, seed, x_val, y_val)
    readings = _readings(held_out)
    threshold = readings.chosen_threshold()
    right, false = held_out.outcome(threshold)
    mnist = model.predict(to_inputs(x_val), batch_size=2048, verbose=0)
    mnist_right = (mnist.argmax(axis=1) == y_val) & accepted(mnist, threshold)
    return ThresholdChoice(
        threshold=threshold,
        pages=pages,
        false_digits_per_page=int(false.sum()) / max(pages, 1),
        digits_read=int(right.sum()) / max(held_out.written, 1),
        mnist_digits_accepted=float(mnist_right.mean()),
    )
