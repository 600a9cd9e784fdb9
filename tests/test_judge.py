"""The judge's training examples (train/judge_data) and the threshold choice (train/threshold)."""

from __future__ import annotations

import numpy as np
import pytest

from train.judge_data import PlacedDigit, harvest, label, page, straight_bar
from train.threshold import choose_threshold

pytest.importorskip("cv2")


def _digit(value: int, x: int, y: int, size: int = 20) -> PlacedDigit:
    return PlacedDigit(value, x, y, np.ones((size, size), np.float32))


def test_a_box_around_one_whole_digit_holds_that_digit():
    placed = [_digit(3, 10, 10), _digit(8, 60, 10)]
    assert label((8, 8, 24, 24), placed) == 3
    assert label((58, 8, 24, 24), placed) == 8


def test_fragments_and_merges_are_non_digits_and_near_misses_are_left_out():
    placed = [_digit(3, 10, 10), _digit(8, 35, 10)]
    assert label((10, 10, 8, 20), placed) is None  # 40% of the 3: a fragment
    assert label((5, 5, 60, 30), placed) is None  # both digits whole: a merge
    assert label((10, 10, 20, 15), placed) == -1  # 75% of the 3: neither clearly
    assert label((0, 0, 5, 5), []) is None  # a page without digits


def test_a_straight_stroke_is_a_bar_and_a_zero_is_not(mnist):
    bar = np.zeros((28, 28), np.uint8)
    bar[4:24, 13:15] = 255
    assert straight_bar(bar)
    zero = mnist.x_test[int(np.flatnonzero(mnist.y_test == 0)[0])]
    assert not straight_bar(zero)
    assert not straight_bar(np.zeros((28, 28), np.uint8))


def test_pages_are_reproducible_and_digit_free_pages_place_nothing(mnist):
    images, labels = mnist.x_test[:200], mnist.y_test[:200]
    first, placed = page(4, 11, images, labels)
    again, placed_again = page(4, 11, images, labels)
    assert np.array_equal(first, again) and first.dtype == np.uint8 and first.shape[2] == 3
    assert [d.label for d in placed] == [d.label for d in placed_again]
    kinds = [bool(page(i, 11, images, labels, digit_share=0.0)[1]) for i in range(5)]
    assert kinds == [False] * 5


def test_harvest_labels_candidates_the_same_whatever_the_workers(mnist):
    images, labels = mnist.x_train[:500], mnist.y_train[:500]
    one = harvest(12, 5, images, labels, workers=1)
    two = harvest(12, 5, images, labels, workers=2)
    assert np.array_equal(one.negatives, two.negatives)
    assert np.array_equal(one.positives, two.positives)
    assert np.array_equal(one.labels, two.labels)
    assert len(one.negatives) > 0 and len(one.positives) == len(one.labels) > 12
    assert set(one.labels.tolist()) <= set(range(10))
    assert one.positives.shape[1:] == (28, 28) and one.positives.dtype == np.uint8


class _ConfidentlyWrong:
    """A model that answers 'this is a 3' with confidence 0.905 to every input."""

    def predict(self, inputs: np.ndarray, batch_size: int, verbose: int) -> np.ndarray:
        rows = np.full((len(inputs), 10), 0.095 / 9, np.float32)
        rows[:, 3] = 0.905
        return rows


def test_the_threshold_rises_above_a_confidently_wrong_model(mnist):
    sevens = np.flatnonzero(mnist.y_test == 7)[:100]
    choice = choose_threshold(_ConfidentlyWrong(), 6, 0, mnist.x_test[sevens], mnist.y_test[sevens])
    assert choice.threshold > 0.905
    assert choice.false_digits_per_page == 0.0 and choice.digits_read == 0.0
    assert choice.mnist_digits_accepted == 0.0 and choice.pages == 6
