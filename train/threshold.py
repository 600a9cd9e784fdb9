"""Choose the acceptance threshold from held-out data, never from the test set.

The reader accepts a candidate as a digit when the classifier's confidence reaches the
threshold (``DigitClassifier.accepts``). The goal is a product decision, stated once here:
on held-out synthetic pages (``train/judge_data.py``, a seed the training never drew from)
the reader may accept at most ``FALSE_DIGITS_PER_PAGE`` non-digit candidates per page; the
threshold is the lowest confidence that meets it (lowest, so that as many real digits as
possible are accepted), and never below ``MIN_THRESHOLD`` (the prediction must be at least a
clear majority). ``convert`` stores it in every exported model's metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from train.judge_data import JudgeExamples

FALSE_DIGITS_PER_PAGE = 0.02
MIN_THRESHOLD = 0.5
_GRID = np.round(np.arange(0.5, 0.9995, 0.0005), 4)


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold and what it does on the held-out data."""

    threshold: float
    pages: int
    false_digits_per_page: float
    page_digits_accepted: float  # held-out page candidates holding one digit, accepted and right
    mnist_digits_accepted: float  # held-out MNIST validation digits, accepted and right

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def choose_threshold(
    model, held_out: JudgeExamples, pages: int, x_val: np.ndarray, y_val: np.ndarray
) -> ThresholdChoice:
    """The lowest threshold keeping held-out false digits under the goal (see the module)."""
    from train.fit import to_inputs

    def confidences(images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, 10), np.float32)
        return model.predict(to_inputs(images), batch_size=2048, verbose=0)

    negative = confidences(held_out.negatives).max(axis=1)
    page_probabilities = confidences(held_out.positives)
    mnist_probabilities = confidences(x_val)
    false_per_page = (negative[None, :] >= _GRID[:, None]).sum(axis=1) / max(pages, 1)
    meets = np.flatnonzero(false_per_page <= FALSE_DIGITS_PER_PAGE)
    index = int(meets[0]) if meets.size else len(_GRID) - 1
    threshold = max(MIN_THRESHOLD, float(_GRID[index]))

    def accepted_and_right(probabilities: np.ndarray, labels: np.ndarray) -> float:
        if len(labels) == 0:
            return 0.0
        right = probabilities.argmax(axis=1) == labels
        return float((right & (probabilities.max(axis=1) >= threshold)).mean())

    return ThresholdChoice(
        threshold=threshold,
        pages=pages,
        false_digits_per_page=float((negative >= threshold).sum() / max(pages, 1)),
        page_digits_accepted=accepted_and_right(page_probabilities, held_out.labels),
        mnist_digits_accepted=accepted_and_right(mnist_probabilities, y_val),
    )
