"""Erase ruled lines, grids, margins and page edges from an ink mask, keeping the digits on them."""

from __future__ import annotations

import numpy as np

from runtime.images import require_opencv

# A line is a straight run of ink at least _SPAN of the frame across (width for horizontal
# lines, height for vertical ones), or _EDGE_SPAN when it reaches the frame's edge; a digit's
# stroke is never that long and never reaches the edge. Lines may lean _TILT_DEG from level
# (a page photographed at an angle) and break for _GAP of the frame (a faint stretch).
_SPAN = 0.5
_EDGE_SPAN = 0.25
_TILT_DEG = 12.0
_GAP = 0.04
# Lines are erased this wide (px): ruled lines are 1-2 px thick at detection resolution.
_LINE_WIDTH = 3
# Strokes crossing a line are bridged over gaps up to this many px; what is left of the lines
# lies within _BAND px of them.
_BRIDGE = 9
_BAND = 5
# Ink at least this many px thick across a line is a pen stroke on it, not the line.
_STROKE = 5


def remove_ruled_lines(
    mask: np.ndarray, detect_on: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Erase ruled lines, grids, margins and page edges from a 0/255 mask.

    Lines are found with OpenCV's probabilistic Hough transform, which follows a tilted or
    broken line exactly (a morphological opening by a level kernel loses it). Their pixels
    are erased; where a stroke crosses a line, the line pixels between its two sides are
    kept (a closing across the line), so a digit written across a line stays whole. Lines
    are looked for in ``detect_on`` when given (a mask of fainter ink, in which a light line
    is not broken into dashes). Returns the cleaned mask and a band (0/255) around the lines
    that were found.
    """
    cv2 = require_opencv()
    segments = _line_segments(mask if detect_on is None else detect_on)
    if not segments:
        return mask, np.zeros_like(mask)
    across = (np.zeros_like(mask), np.zeros_like(mask))  # horizontal, vertical lines
    for x0, y0, x1, y1, horizontal in segments:
        cv2.line(across[0 if horizontal else 1], (x0, y0), (x1, y1), 255, _LINE_WIDTH)
    lines = cv2.bitwise_or(*across)
    clean = cv2.bitwise_and(mask, cv2.bitwise_not(lines))
    restored = clean
    for drawn, bridge, thick in zip(
        across, ((1, _BRIDGE), (_BRIDGE, 1)), ((1, _STROKE), (_STROKE, 1)), strict=True
    ):
        if not cv2.countNonZero(drawn):
            continue
        on_line = cv2.bitwise_and(drawn, mask)
        # A stroke crossing the line: ink on both sides, bridged across it.
        bridged = cv2.morphologyEx(clean, cv2.MORPH_CLOSE, _rect(cv2, bridge))
        # A stroke running along the line: ink thicker across it than the line itself.
        wide = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _rect(cv2, thick))
        kept = cv2.bitwise_and(cv2.bitwise_or(bridged, wide), on_line)
        restored = cv2.bitwise_or(restored, kept)
    band = cv2.dilate(lines, np.ones((_BAND, _BAND), np.uint8))
    return restored, band


def _rect(cv2, size: tuple[int, int]) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_RECT, size)


def _line_segments(mask: np.ndarray) -> list[tuple[int, int, int, int, bool]]:
    """Straight runs of ink long enough to be lines: (x0, y0, x1, y1, horizontal)."""
    cv2 = require_opencv()
    height, width = mask.shape
    side = min(height, width)
    found = cv2.HoughLinesP(
        mask,
        rho=1,
        theta=np.pi / 180,
        threshold=max(10, int(0.15 * side)),
        minLineLength=max(10, int(_EDGE_SPAN * side)),
        maxLineGap=max(2, int(_GAP * max(height, width))),
    )
    if found is None:
        return []
    segments = []
    tilt = np.tan(np.deg2rad(_TILT_DEG))
    for x0, y0, x1, y1 in found.reshape(-1, 4).tolist():  # (N, 1, 4) before OpenCV 5
        dx, dy = abs(x1 - x0), abs(y1 - y0)
        horizontal = dy <= tilt * dx
        if not horizontal and dx > tilt * dy:
            continue  # a slanted run: a stroke, not a ruling
        length, extent = (dx, width) if horizontal else (dy, height)
        low, high = (min(x0, x1), max(x0, x1)) if horizontal else (min(y0, y1), max(y0, y1))
        at_edge = low <= 2 or high >= extent - 3
        if length >= _SPAN * extent or (at_edge and length >= _EDGE_SPAN * extent):
            segments.append((x0, y0, x1, y1, horizontal))
    return segments
