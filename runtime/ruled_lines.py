"""Erase ruled lines, margins and page edges from an ink mask, keeping the digits on them."""

from __future__ import annotations

import numpy as np

from runtime.images import shrink

# Ruled lines are straight ink runs at least this fraction of the frame's width (height for
# vertical lines) that also reach the frame edge or half across it.
_LINE_FRACTION = 0.25
# Slack (px at half the mask's resolution) for lines that are not perfectly level: with
# runs of 1/4 of the frame, lines tilted up to ~4 degrees are found.
_LINE_TILT_SLACK = 3
# Within a line's band, the line is the ink runs longer than 1/_LINE_RUN_DIVISOR of the
# frame width (longer than strokes are wide); gaps up to _BRIDGE px across it are bridged.
_LINE_RUN_DIVISOR = 20
_BRIDGE = 9


def remove_ruled_lines(mask: np.ndarray) -> np.ndarray:
    """Erase ruled lines, margins and page edges (long straight runs of ink) from a 0/255 mask.

    A morphological opening by a long horizontal (vertical) kernel keeps only runs at least
    ``_LINE_FRACTION`` of the frame long; of those, only runs reaching the frame edge or
    spanning half of it count as lines, so a long stroke of a big digit survives. Where a
    stroke crosses a line the line pixels between its two sides are kept (a closing across
    the line), so a digit written across a line stays whole; a digit resting on a line is
    simply cut free of it. Lines are searched at half resolution.
    """
    import cv2

    height, width = mask.shape
    half, _ = shrink(mask, max(1, max(height, width) // 2))
    half_h, half_w = half.shape
    lines = np.zeros_like(half)
    for horizontal in (True, False):
        length = max(3, int((half_w if horizontal else half_h) * _LINE_FRACTION))
        slack = (1, _LINE_TILT_SLACK) if horizontal else (_LINE_TILT_SLACK, 1)
        run = (length, 1) if horizontal else (1, length)
        widened = cv2.dilate(half, cv2.getStructuringElement(cv2.MORPH_RECT, slack))
        opened = cv2.morphologyEx(
            widened, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, run)
        )
        lines = cv2.bitwise_or(lines, opened)
    if not cv2.countNonZero(lines):
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        lines, connectivity=8, ltype=cv2.CV_16U
    )
    left, top, w, h = (stats[1:, i] for i in range(4))
    reaches_edge = (left == 0) | (top == 0) | (left + w == half_w) | (top + h == half_h)
    is_line = np.zeros(count, np.uint8)
    is_line[1:][reaches_edge | (w >= half_w // 2) | (h >= half_h // 2)] = 255
    band = cv2.resize(is_line[labels], (width, height), interpolation=cv2.INTER_NEAREST)
    # Only the lines' surroundings change: work on their bounding box (often a thin strip).
    x, y, w, h = cv2.boundingRect(band)
    rows = slice(max(0, y - _BRIDGE), min(height, y + h + _BRIDGE))
    cols = slice(max(0, x - _BRIDGE), min(width, x + w + _BRIDGE))
    cleaned = mask.copy()
    cleaned[rows, cols] = _cut_lines(mask[rows, cols], band[rows, cols], width)
    return cleaned


def _cut_lines(mask: np.ndarray, band: np.ndarray, frame_width: int) -> np.ndarray:
    """Remove the line pixels within ``band`` from ``mask``, keeping strokes that cross.

    The band is coarse (half resolution plus tilt slack); the line itself is the long thin
    runs inside it, which leaves the strokes crossing it nearly untouched.
    """
    import cv2

    in_band = cv2.bitwise_and(mask, band)
    run = max(5, frame_width // _LINE_RUN_DIVISOR)
    lines = cv2.bitwise_or(
        cv2.morphologyEx(
            in_band, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (run, 1))
        ),
        cv2.morphologyEx(
            in_band, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, run))
        ),
    )
    clean = cv2.bitwise_and(mask, cv2.bitwise_not(lines))
    bridged = cv2.bitwise_or(
        cv2.morphologyEx(
            clean, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, _BRIDGE))
        ),
        cv2.morphologyEx(
            clean, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (_BRIDGE, 1))
        ),
    )
    return cv2.bitwise_or(clean, cv2.bitwise_and(bridged, lines))
