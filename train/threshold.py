"""Choose the acceptance threshold from held-out pages, never from the test set.

The reader accepts a candidate as a digit when the classifier's confidence reaches the
threshold, or for a 1 the stricter bar derived from it (``runtime.classifier.accepts``); the
choice below applies that same function. The threshold is
measured, not set: the reader reads held-out synthetic pages
(``train/judge_data.threshold_page``, a seed the training never drew from) exactly as a device
does (``runtime.segment``: the candidates, the choice among them, the word rule) at every
threshold of a grid, and the one with the best score is kept. The pages show what the judge
never learned, as a stranger's page would: the validation split's MNIST digits, and numbers
and words in handwriting fonts kept out of training (``train.glyphs.THRESHOLD_PACKAGES``);
on pages like its training pages the judge rejects nearly every non-digit at any threshold,
and the threshold chosen there came out far lower than the one that reads the reading
benchmark's tune split best. The score: digits read right, minus ``FALSE_DIGIT_COST`` for every digit
reported that is not there or not what is written. That cost is the product decision,
stated once here: a false digit is as bad as three missed ones. Never below
``MIN_THRESHOLD``: the prediction must be a clear majority. ``convert`` stores the threshold
in every exported model's metadata.
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
_GRID = np.concatenate([np.arange(0.5, 0.95, 0.01), np.arange(0.95, 0.9999, 0.0005)])
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


def choose_threshold(
    model, pages: int, seed: int, x_val: np.ndarray, y_val: np.ndarray
) -> ThresholdChoice:
    """The threshold with the best score reading ``pages`` held-out pages (see the module);
    one batched ``model.predict`` for all candidates."""
    from train.fit import to_inputs

    frames: list[tuple[FrameCandidates, list[PlacedDigit]]] = []
    for index in range(pages):
        image, placed = threshold_page(index, seed, x_val, y_val)
        frames.append((FrameCandidates(image), placed))
    crops = [region.image for frame, _ in frames for region in frame.regions]
    probabilities = model.predict(to_inputs(np.stack(crops)), batch_size=2048, verbose=0)
    by_page = np.split(probabilities, np.cumsum([len(frame.regions) for frame, _ in frames])[:-1])
    written = sum(len(placed) for _, placed in frames)

    def outcome(threshold: float) -> tuple[int, int]:
        false = right = 0
        for (frame, placed), rows in zip(frames, by_page, strict=True):
            for region, row in frame.choose(rows, partial(accepts, threshold=threshold)):
                digit = int(row.argmax())
                hit = any(d.label == digit and d.share_inside(region.box) >= _MATCH for d in placed)
                right += hit
                false += not hit
        return false, right

    scores = []
    for threshold in _GRID:
        false, right = outcome(float(threshold))
        scores.append(right - FALSE_DIGIT_COST * false)
    chosen = _GRID[int(np.argmax(scores))]  # the lowest of equal scores
    threshold = max(MIN_THRESHOLD, float(round(chosen, 4)))
    false, right = outcome(threshold)
    mnist = model.predict(to_inputs(x_val), batch_size=2048, verbose=0)
    mnist_right = (mnist.argmax(axis=1) == y_val) & accepted(mnist, threshold)
    return ThresholdChoice(
        threshold=threshold,
        pages=pages,
        false_digits_per_page=false / max(pages, 1),
        digits_read=right / max(written, 1),
        mnist_digits_accepted=float(mnist_right.mean()),
    )
