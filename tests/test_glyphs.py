"""The handwriting glyphs the judge trains on (train/glyphs.py, train/glyphs.npz)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.corpora.fonts import HANDWRITING, PRINTED
from train import glyphs


def test_no_glyph_comes_from_a_font_of_the_reading_benchmark():
    benchmark_packages = {font.package for font in HANDWRITING + PRINTED}
    benchmark_files = {font.path.rsplit("/", 1)[-1] for font in HANDWRITING + PRINTED}
    names = glyphs.load().font_names
    assert len(names) >= 10
    for name in names:
        file, package = name.split(" (")[0], name.split(" (")[1].split()[0]
        assert package not in benchmark_packages, name
        assert file not in benchmark_files, name


def test_every_font_writes_every_digit():
    loaded = glyphs.load()
    for name, face in zip(loaded.font_names, loaded.by_font, strict=True):
        assert sorted(face) == list(glyphs.DIGITS), name
        for char, glyph in face.items():
            assert glyph.ink.max() > 0.5, (name, char)


@pytest.mark.parametrize("font", range(0, 22, 3))
def test_digits_are_written_at_the_height_asked_and_slanted(font):
    def written(shear: float) -> np.ndarray:
        return glyphs.text_coverage("4705", 60, font, np.random.default_rng(font), shear=shear)

    def lean(coverage: np.ndarray) -> float:
        ys, xs = np.nonzero(coverage > 0.5)
        return float(np.polyfit(ys, xs, 1)[0])  # x per y across the ink

    upright = written(0.0)
    rows = np.flatnonzero(upright.max(axis=1) > 0.5)
    assert 45 <= rows[-1] - rows[0] + 1 <= 80
    assert upright.shape[1] > 1.5 * upright.shape[0]  # four digits side by side
    assert lean(written(0.3)) == pytest.approx(lean(upright) + 0.3, abs=0.08)


def test_a_bolder_pen_writes_more_ink():
    thin = glyphs.text_coverage("47", 60, 0, np.random.default_rng(1))
    bold = glyphs.text_coverage("47", 60, 0, np.random.default_rng(1), pen=2)
    assert bold.sum() > 1.3 * thin.sum()
