"""The handwriting the judge trains on (train/glyphs.py, train/glyphs.npz)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.corpora.fonts import HANDWRITING, PRINTED
from train import glyphs

FONTS = range(len(glyphs.load().font_names))


def test_no_glyph_comes_from_a_font_of_the_reading_benchmark():
    benchmark_packages = {font.package for font in HANDWRITING + PRINTED}
    benchmark_names = {font.name for font in HANDWRITING + PRINTED}
    names = glyphs.load().font_names
    assert len(names) >= 10
    for name in names:
        font_name, package = name.split(" (")[0], name.split(" (")[1].split()[0]
        assert package not in benchmark_packages, name
        assert font_name not in benchmark_names, name


def test_every_font_has_every_digit_rendered_larger_than_training_draws_it():
    loaded = glyphs.load()
    for font, (name, digits) in enumerate(zip(loaded.font_names, loaded.digits, strict=True)):
        assert sorted(digits) == list(glyphs.DIGITS), name
        assert loaded.digit_height(font) >= 90, name
        for digit, ink in digits.items():
            assert ink.max() > 0.9, (name, digit)


def _pieces(coverage: np.ndarray) -> int:
    _, _, stats, _ = cv2.connectedComponentsWithStats((coverage > 0.3).astype(np.uint8))
    return int((stats[1:, cv2.CC_STAT_AREA] >= 3).sum())


@pytest.mark.parametrize("font", FONTS)
def test_a_digit_is_drawn_whole_at_the_height_asked(font):
    for height in (30, 90):
        heights = []
        for digit in range(10):
            coverage = glyphs.digit_coverage(digit, height, font)
            rows = np.flatnonzero(coverage.max(axis=1) > 0.3)
            heights.append(rows[-1] - rows[0] + 1)
            # Handwriting may lift the pen once (a 4's or 5's stroke), never more.
            assert _pieces(coverage) <= 2, (digit, height)
        assert np.median(heights) == pytest.approx(height, rel=0.15)


def _lean(coverage: np.ndarray) -> float:
    ys, xs = np.nonzero(coverage > 0.5)
    return float(np.polyfit(ys, xs, 1)[0])  # x per y across the ink


def test_shear_slants_and_a_bolder_pen_widens_every_stroke_outward():
    upright = glyphs.digit_coverage(0, 60, 0)
    assert _lean(glyphs.digit_coverage(0, 60, 0, shear=0.3)) == pytest.approx(
        _lean(upright) + 0.3, abs=0.08
    )
    bold = glyphs.digit_coverage(0, 60, 0, pen=3)
    assert bold.shape[0] >= upright.shape[0] + 5 and bold.shape[1] >= upright.shape[1] + 5
    assert (bold > 0.5).sum() > 1.5 * (upright > 0.5).sum()


def test_fonts_kept_for_the_threshold_choice_are_never_trained_on():
    loaded = glyphs.load()
    training, held_out = glyphs.training_fonts(), glyphs.threshold_fonts()
    assert set(training).isdisjoint(held_out)
    assert sorted(training + held_out) == list(FONTS)
    assert {loaded.package(font) for font in held_out} == set(glyphs.THRESHOLD_PACKAGES)
    assert len(training) >= 20


def test_most_fonts_have_the_letters_and_words_sit_on_one_baseline():
    loaded = glyphs.load()
    with_letters = [f for f in FONTS if set(loaded.letters[f]) == set(glyphs.LETTERS)]
    assert len(with_letters) >= 20
    assert all(set(loaded.letters[f]) <= set(glyphs.LETTERS) for f in FONTS)
    font = with_letters[0]
    a, p = (glyphs.word_coverage(c, 60, font, []) for c in "ap")
    ap = glyphs.word_coverage("ap", 60, font, [0.2])
    rows = np.flatnonzero(ap.max(axis=1) > 0.3)
    # the p's stem hangs below the a: the pair is taller than either letter alone
    assert rows[-1] - rows[0] + 1 > max(_ink_height(a), _ink_height(p)) + 5
    assert _pieces(ap) == _pieces(a) + _pieces(p)  # set apart: no letter touches the next
    touching = glyphs.word_coverage("ap", 60, font, [-0.1])
    assert touching.shape[1] < ap.shape[1]


def _ink_height(coverage: np.ndarray) -> int:
    rows = np.flatnonzero(coverage.max(axis=1) > 0.3)
    return int(rows[-1] - rows[0] + 1)
