"""runtime.proposals: the filters on ink pieces remove line residue and texture fragments,
never a digit."""

from __future__ import annotations

import cv2
import numpy as np

from runtime.proposals import ink_pieces

SHAPE = (240, 320)
SHORTEST = 9.6  # 4% of the frame height, the reader's smallest digit


def boxes(mask, lines=None, structure=None) -> list[tuple[int, int, int, int]]:
    return [piece.box for piece in ink_pieces(mask, SHORTEST, lines, structure)[1]]


def test_a_digit_on_closely_ruled_paper_is_kept_and_line_residue_is_not():
    """Lines every 10 px: their bands cover most of the page, and most of a digit's ink."""
    band = np.zeros(SHAPE, np.uint8)
    for y in range(6, SHAPE[0], 10):
        band[y - 4 : y + 5] = 255
    mask = np.zeros(SHAPE, np.uint8)
    cv2.ellipse(mask, (100, 120), (14, 22), 0, 0, 360, 255, 3)  # a 0, 45 px tall
    cv2.line(mask, (200, 45), (240, 47), 255, 2)  # what is left of a line, in its band
    kept = boxes(mask, band)
    assert len(kept) == 1 and kept[0][0] < 150


def test_digits_joined_by_a_thin_faint_line_are_not_a_texture():
    """A ruling the line finder lost joins three digits in the faint mask across the frame;
    the faint structure is mostly the digits' own ink, so they stay."""
    mask = np.zeros(SHAPE, np.uint8)
    for x in (100, 160, 220):
        cv2.ellipse(mask, (x, 120), (12, 20), 0, 0, 360, 255, 3)
    structure = mask.copy()
    cv2.line(structure, (5, 140), (315, 140), 255, 1)
    assert len(boxes(mask, structure=structure)) == 3


def test_fragments_of_wood_grain_are_removed():
    """Grain strokes the threshold saw only in part: the faint structure is long and mostly
    ink the threshold missed."""
    mask = np.zeros(SHAPE, np.uint8)
    structure = np.zeros(SHAPE, np.uint8)
    for y in (60, 120, 180):
        cv2.line(structure, (10, y), (310, y + 20), 255, 7)
        cv2.line(mask, (140, y + 9), (175, y + 12), 255, 3)  # the darker bit of the stroke
    assert boxes(mask, structure=structure) == []


def test_a_large_mask_with_more_pieces_than_16_bit_labels_hold_is_labelled():
    """A page searched at full resolution can hold more specks than 65,535 (16-bit labels)."""
    mask = np.zeros((600, 600), np.uint8)
    mask[::2, ::2] = 255  # 90,000 separate one-pixel pieces
    labels, pieces = ink_pieces(mask, 6.0)
    assert labels.max() == 90_000 and pieces == []  # specks, not digits
