"""The preview window (OpenCV HighGUI) and the check for whether one can be shown at all."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

import numpy as np

from camera_demo.resources import Closable
from runtime.errors import DigitKitError
from runtime.images import require_opencv

KEY_ESC = 27
KEY_SPACE = 32
NO_KEY = -1


class DisplayUnavailableError(DigitKitError):
    """No window can be shown: no display, or an OpenCV build without GUI support."""


def display_missing_reason(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> str:
    """Why no window can be shown here (empty string when a display seems available)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux") and not (
        environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    ):
        return "no DISPLAY or WAYLAND_DISPLAY is set"
    return ""


def _reason(exc: Exception) -> str:
    # cv2.error text is "OpenCV(x) file:line: error: (-2:...) <message> in function ..."
    text = " ".join(str(exc).split())
    match = re.search(r"error: \([^)]*\)\s*(.*)", text)
    return (match.group(1) if match else text)[:160]


class Window(Closable):
    """A named OpenCV window; ``show`` displays a frame and returns the key pressed (or -1)."""

    def __init__(self, title: str = "digit camera") -> None:
        cv2 = require_opencv()

        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error as exc:
            raise DisplayUnavailableError(
                "OpenCV cannot open a window (opencv-python-headless has no GUI support; "
                f"install opencv-python for the preview): {_reason(exc)}"
            ) from exc

    def show(self, view: np.ndarray, wait_ms: int = 1) -> int:
        cv2 = require_opencv()

        cv2.imshow(self.title, view)
        key = cv2.waitKey(wait_ms)
        return NO_KEY if key < 0 else key & 0xFF

    def close(self) -> None:
        cv2 = require_opencv()

        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets HighGUI process the close event
        except cv2.error:
            pass  # already gone (closed by the user)
