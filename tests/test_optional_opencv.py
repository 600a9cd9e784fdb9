"""On an install without OpenCV, image preprocessing says what to install; 28x28 arrays still work."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["cv2"] = None  # as if opencv-python-headless were not installed
    import numpy as np
    from runtime import DigitKitError, preprocess
    try:
        preprocess(np.zeros((40, 60), np.uint8))
    except DigitKitError as exc:
        print("ERROR:", exc)
    """
)


def test_missing_opencv_gets_a_clear_error():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (
        "ERROR: this needs OpenCV, which is not installed: pip install 'digit-kit[camera]'"
        in done.stdout
    )


def test_missing_opencv_in_find_digits_too():
    script = SCRIPT.replace(
        "preprocess(np.zeros((40, 60), np.uint8))", "find_digits(np.zeros((40, 60), np.uint8))"
    )
    script = script.replace("import DigitKitError, preprocess", "import DigitKitError, find_digits")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR: this needs OpenCV, which is not installed" in done.stdout
