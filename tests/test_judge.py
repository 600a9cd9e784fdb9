"""The judge's training examples (train/judge_data) and the threshold choice (train/threshold)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import segment
from runtime.cli_common import EXIT_BAD_INPUT
from train import glyphs, judge_data
from train.judge_data import PlacedDigit, harvest, label, page, straight_bar, threshold_page
from train.threshold import PageReadings, choose_threshold, read_threshold_pages

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


def test_the_threshold_rises_above_a_confidently_wrong_model(mnist, monkeypatch):
    sevens = np.flatnonzero(mnist.y_test == 7)[:100]
    x, y = mnist.x_test[sevens], mnist.y_test[sevens]
    # Doubted numbers (two or more digits of even height, each read at 0.5 or more) are read
    # at any threshold: the threshold still rises above the model, but cannot stop those.
    with_doubted_numbers = choose_threshold(_ConfidentlyWrong(), 6, 0, x, y)
    assert with_doubted_numbers.threshold > 0.905
    assert with_doubted_numbers.false_digits_per_page > 0
    monkeypatch.setattr(segment, "_DOUBTED_NUMBERS", False)
    choice = choose_threshold(_ConfidentlyWrong(), 6, 0, x, y)
    assert choice.threshold > 0.905
    assert choice.false_digits_per_page == 0.0 and choice.digits_read == 0.0
    assert choice.mnist_digits_accepted == 0.0 and choice.pages == 6


def test_threshold_pages_are_reproducible_and_their_digits_are_where_they_say(mnist):
    images, labels = mnist.x_test[:200], mnist.y_test[:200]
    pages = [threshold_page(i, 3, images, labels) for i in range(12)]
    again = threshold_page(5, 3, images, labels)
    assert np.array_equal(pages[5][0], again[0])
    assert sum(bool(placed) for _, placed in pages) >= 4  # a third are digit-free
    for image, placed in pages:
        gray = image.min(axis=2).astype(np.float32)
        for digit in placed:
            h, w = digit.coverage.shape
            assert 0 <= digit.label <= 9 and digit.share_inside((digit.x, digit.y, w, h)) == 1.0
            ink = gray[digit.y : digit.y + h, digit.x : digit.x + w][digit.coverage > 0.8]
            assert ink.size and np.median(ink) < np.median(gray) - 30  # drawn darker than paper


def test_training_draws_no_font_of_the_threshold_choice(monkeypatch, mnist):
    used: set[int] = set()
    for name in ("digit_coverage", "word_coverage"):
        original = getattr(glyphs, name)

        def spy(*args, _original=original, **kwargs):
            used.add(args[2])
            return _original(*args, **kwargs)

        monkeypatch.setattr(glyphs, name, spy)
    judge_data.font_digits(200, 0)
    for index in range(40):
        page(index, 0, mnist.x_train[:200], mnist.y_train[:200])
    assert used and used <= set(glyphs.training_fonts())
    used.clear()
    for index in range(40):
        threshold_page(index, 0, mnist.x_train[:200], mnist.y_train[:200])
    assert used and used <= set(glyphs.threshold_fonts())


def test_the_page_readings_choose_what_training_chooses(mnist, monkeypatch):
    from benchmarks.bench_threshold_pages import page_table

    monkeypatch.setattr(segment, "_DOUBTED_NUMBERS", False)  # read at any threshold (above)

    sevens = np.flatnonzero(mnist.y_test == 7)[:100]
    x, y = mnist.x_test[sevens], mnist.y_test[sevens]
    readings = read_threshold_pages(_ConfidentlyWrong(), 6, 0, x, y)
    assert readings.right.shape == readings.false.shape == (6, len(readings.grid))
    best = float(readings.grid[readings.best()])
    assert best > 0.905 and not readings.false[:, readings.best()].any()
    assert readings.false[:, 0].sum() > 0  # at 0.5 it reports 3s where sevens are written
    chosen = readings.chosen_threshold()
    assert choose_threshold(_ConfidentlyWrong(), 6, 0, x, y).threshold == chosen
    table, summary = page_table(readings)
    assert f"| {best:.4f} (best" in table and summary["best"] == best
    chosen_row = (
        f"| {chosen:.4f} (chosen) |" if chosen != best else f"| {best:.4f} (best) (chosen) |"
    )
    assert chosen_row in table and summary["chosen"] == chosen
    assert any(low <= best <= high for low, high in summary["within_one_se"])


def test_later_pages_are_read_as_the_same_stream_goes_on(mnist, monkeypatch):
    # bench_threshold_pages --draws reads the pages after the training's: the same stream.
    monkeypatch.setattr(segment, "_DOUBTED_NUMBERS", False)
    x, y = mnist.x_test[:100], mnist.y_test[:100]
    whole = read_threshold_pages(_ConfidentlyWrong(), 6, 0, x, y)
    later = read_threshold_pages(_ConfidentlyWrong(), 3, 0, x, y, first=3)
    assert not np.array_equal(whole.false[:3], whole.false[3:])  # the test can tell them apart
    assert np.array_equal(later.right, whole.right[3:]) and np.array_equal(
        later.false, whole.false[3:]
    )


def test_training_keeps_the_strictest_threshold_the_pages_cannot_tell_from_the_best():
    grid = np.array([0.6, 0.7, 0.8, 0.9])
    # Four pages. At 0.7 the best total (16); 0.8 scores 14, a difference that varies from page
    # to page (standard error 2 x 1.29 = 2.6): within one. 0.9 loses 3 on every page (12
    # in all, standard error 0): clearly worse.
    right = np.array([[4, 4, 4, 1], [4, 4, 2, 1], [4, 4, 5, 1], [4, 4, 3, 1]])
    false = np.zeros_like(right)
    false[:, 0] = 1
    readings = PageReadings(grid=grid, right=right, false=false, written=16)
    assert readings.best() == 1
    assert list(readings.within_one_se()) == [False, True, True, False]
    assert readings.chosen() == 2
    assert readings.chosen_threshold() == 0.8
    # One page: no spread to judge by, so only thresholds scoring as well as the best are
    # within (here the best alone).
    single = PageReadings(grid=grid, right=right[1:2], false=false[1:2], written=4)
    assert single.chosen() == single.best() == 1
    # A threshold that loses on one page only is within: its standard error is its loss.
    one_page_off = right.copy()
    one_page_off[0, 3] = 4 - 2  # 0.9 as good as 0.7 but on the first page, 2 fewer
    one_page_off[1:, 3] = 4
    lone = PageReadings(grid=grid, right=one_page_off, false=false, written=16)
    assert lone.within_one_se()[3] and lone.chosen() == 3


def test_bench_threshold_pages_names_a_missing_model(tmp_path, capsys):
    from benchmarks import bench_threshold_pages

    missing = tmp_path / "nothing.keras"
    assert bench_threshold_pages.main(["--model", str(missing)]) == EXIT_BAD_INPUT
    assert str(missing) in capsys.readouterr().err
