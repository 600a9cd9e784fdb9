"""runtime.ruled_lines: lines found and erased around the strokes that cross them."""

from __future__ import annotations

import cv2
import numpy as np

from runtime.ruled_lines import remove_ruled_lines


def ruled_mask() -> np.ndarray:
    """A 240x320 0/255 mask with two ruled lines, 2 px thick and falling 6 px across (a page
    photographed slightly askew), from y=60 and y=120."""
    mask = np.zeros((240, 320), np.uint8)
    cv2.line(mask, (0, 60), (319, 66), 255, 2)
    cv2.line(mask, (0, 120), (319, 126), 255, 2)
    return mask


def test_a_line_and_a_stroke_crossing_it():
    mask = ruled_mask()
    cv2.line(mask, (150, 40), (150, 80), 255, 3)  # a digit's stroke across the line
    clean, band = remove_ruled_lines(mask)
    assert clean[55:70, 10:140].max() == 0 and clean[55:70, 160:310].max() == 0
    assert clean[40:81, 149:152].min() == 255  # the stroke stays whole across the line
    assert band[61, 10] == 255 and band[125, 300] == 255 and band[90, 150] == 0


def test_lines_at_different_heights_are_not_joined():
    mask = np.zeros((240, 320), np.uint8)
    cv2.line(mask, (0, 60), (120, 60), 255, 2)
    cv2.line(mask, (200, 70), (319, 70), 255, 2)
    _, band = remove_ruled_lines(mask)
    assert band[60, 10] == 255 and band[70, 300] == 255
    assert band[55:76, 140:180].max() == 0
