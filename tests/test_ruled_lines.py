"""runtime.ruled_lines: lines found, erased around the strokes that cross them, and known as
lines where they run hidden behind writing."""

from __future__ import annotations

import cv2
import numpy as np

from runtime.ruled_lines import remove_ruled_lines


def ruled_mask(gap: tuple[int, int] | None = None) -> np.ndarray:
    """A 240x320 0/255 mask with two ruled lines, 2 px thick and falling 6 px across (a page
    photographed slightly askew), from y=60 and y=120; the first is broken over ``gap``
    (x from, x to)."""
    mask = np.zeros((240, 320), np.uint8)
    cv2.line(mask, (0, 60), (319, 66), 255, 2)
    cv2.line(mask, (0, 120), (319, 126), 255, 2)
    if gap is not None:
        mask[50:75, gap[0] : gap[1]] = 0
    return mask


def test_a_line_and_a_stroke_crossing_it():
    mask = ruled_mask()
    cv2.line(mask, (150, 40), (150, 80), 255, 3)  # a digit's stroke across the line
    clean, band = remove_ruled_lines(mask)
    assert clean[55:70, 10:140].max() == 0 and clean[55:70, 160:310].max() == 0
    assert clean[40:81, 149:152].min() == 255  # the stroke stays whole across the line
    assert band[61, 10] == 255 and band[125, 300] == 255 and band[90, 150] == 0


def test_the_band_covers_a_line_where_writing_hides_it():
    """Two segments of one line with a wide gap (where a digit sits on the line and the
    Hough transform loses it) are one line: the band spans the gap, so the faint rest of the
    line there is not taken for a structure the digit belongs to."""
    for gap in ((90, 200), (100, 220), (110, 210), (130, 200)):
        _, band = remove_ruled_lines(ruled_mask(gap))
        line_y = [round(60 + 6 * x / 319) for x in range(gap[0], gap[1])]
        assert all(band[y, x] == 255 for x, y in zip(range(*gap), line_y, strict=True)), gap
        assert band[90:110, gap[0] : gap[1]].max() == 0  # never across to the next line


def test_lines_at_different_heights_are_not_joined():
    mask = np.zeros((240, 320), np.uint8)
    cv2.line(mask, (0, 60), (120, 60), 255, 2)
    cv2.line(mask, (200, 70), (319, 70), 255, 2)
    _, band = remove_ruled_lines(mask)
    assert band[60, 10] == 255 and band[70, 300] == 255
    assert band[55:76, 140:180].max() == 0
