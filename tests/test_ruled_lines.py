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


def test_a_line_leaning_between_hough_steps_is_erased_whole():
    """Graph paper photographed slightly askew: thin lines leaning between Hough's 1-degree
    steps come back as several collinear segments; no dash of a line may be left over (a
    vertical one reads as a 1), only the specks where lines cross."""
    mask = np.zeros((240, 320), np.uint8)
    for x in range(20, 320, 37):
        cv2.line(mask, (x, 0), (x + 3, 239), 255, 1)  # 0.7 degrees off vertical
    for y in range(15, 240, 29):
        cv2.line(mask, (0, y), (319, y + 2), 255, 1)  # 0.4 degrees off level
    clean, _ = remove_ruled_lines(mask)
    _, _, stats, _ = cv2.connectedComponentsWithStats(clean)
    assert stats[1:, cv2.CC_STAT_WIDTH : cv2.CC_STAT_HEIGHT + 1].max(initial=0) <= 6, stats[1:]


def test_a_stroke_along_a_line_darker_than_the_line_is_kept():
    ink = np.zeros((240, 320), np.uint8)
    cv2.line(ink, (160, 0), (160, 239), 40, 1)  # a faint grid line
    cv2.line(ink, (160, 80), (160, 150), 150, 2)  # a thin pen stroke written along it (a "1")
    mask = np.where(ink >= 24, np.uint8(255), np.uint8(0))
    clean, _ = remove_ruled_lines(mask, ink=ink)
    assert clean[85:146, 159:162].max(axis=1).min() == 255  # the stroke is whole
    assert clean[:70].max() == 0 and clean[160:].max() == 0  # the line is gone
    without_ink, _ = remove_ruled_lines(mask)
    assert without_ink[85:146, 159:162].max(axis=1).min() == 0  # only its ink tells it apart


def test_rows_of_writing_broken_by_gaps_are_not_lines():
    """Words on a text line make short level runs at one height; runs further apart than a
    line's breaks are not one line, however long they are together."""
    mask = np.zeros((240, 320), np.uint8)
    for x in range(0, 320, 100):
        cv2.line(mask, (x + 10, 100), (x + 80, 100), 255, 2)  # 70 px words, 30 px apart
    clean, band = remove_ruled_lines(mask)
    assert band.max() == 0 and cv2.countNonZero(clean) == cv2.countNonZero(mask)
