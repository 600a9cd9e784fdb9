"""Draw a frame's reading over it: digit boxes, labels with confidences, the number, and FPS."""

from __future__ import annotations

import numpy as np

from camera_demo.pipeline import FrameReading
from runtime.images import require_opencv

CONFIDENT = 0.9
GREEN = (60, 200, 60)
AMBER = (0, 170, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
FONT_HEIGHT_AT_SCALE_1 = 22  # Hershey simplex cap height in pixels at fontScale 1


def _label(
    view: np.ndarray, text: str, origin: tuple[int, int], scale: float, color: tuple
) -> None:
    """Text on a filled box so it stays readable on any background; ``origin`` is its bottom-left."""
    cv2 = require_opencv()

    thickness = max(1, round(scale * 2))
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    # Python min/max: np.clip on scalars costs more than the drawing itself.
    x = int(max(0, min(origin[0], view.shape[1] - width - 4)))
    y = int(max(height + 4, min(origin[1], view.shape[0] - baseline - 2)))
    cv2.rectangle(view, (x, y - height - 4), (x + width + 4, y + baseline + 2), color, cv2.FILLED)
    cv2.putText(
        view, text, (x + 2, y), cv2.FONT_HERSHEY_SIMPLEX, scale, BLACK, thickness, cv2.LINE_AA
    )


def draw_overlay(
    view: np.ndarray, reading: FrameReading, fps: float | None = None, status: str = ""
) -> np.ndarray:
    """Draw ``reading`` onto ``view`` (uint8 BGR, modified in place) and return it.

    Boxes are green at confidence >= 0.9 and amber below. Text scales with the frame height.
    """
    cv2 = require_opencv()

    height = view.shape[0]
    scale = max(0.35, height / 960)
    line = max(1, round(height / 320))
    for digit in reading.digits:
        x, y, w, h = digit.box
        color = GREEN if digit.confidence >= CONFIDENT else AMBER
        cv2.rectangle(view, (x, y), (x + w, y + h), color, line)
        _label(view, f"{digit.digit} {digit.confidence:.0%}", (x, y - line - 2), scale, color)
    big = scale * 2
    _label(view, reading.shown or "-", (6, int(FONT_HEIGHT_AT_SCALE_1 * big) + 8), big, WHITE)
    corner = " ".join(part for part in (status, f"{fps:.0f} FPS" if fps else "") if part)
    return draw_status(view, corner) if corner else view


def draw_status(view: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` (FPS, PAUSED) in the top-right corner of ``view`` and return it."""
    cv2 = require_opencv()

    scale = max(0.35, view.shape[0] / 960)
    (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, round(scale * 2)))
    _label(
        view,
        text,
        (view.shape[1] - width - 10, int(FONT_HEIGHT_AT_SCALE_1 * scale) + 8),
        scale,
        WHITE,
    )
    return view
