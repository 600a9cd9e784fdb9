"""What to install for a missing library, as a command that exists on this machine's platform.

PyPI has LiteRT and OpenCV wheels for x86_64 and 64-bit ARM, none for 32-bit ARM (armv7l,
32-bit Raspberry Pi OS), where OpenCV comes from apt and the NumPy backend replaces LiteRT.
``tensorflow-cpu`` has x86_64 wheels only; on 64-bit ARM the plain ``tensorflow`` is the CPU build.
"""

from __future__ import annotations

import platform

_ARM32 = ("armv7l", "armv6l", "armv8l", "arm")
_ARM64 = ("aarch64", "arm64")


def _machine() -> str:
    return platform.machine().lower()


def litert() -> str:
    """How to get the LiteRT interpreter here."""
    if _machine() in _ARM32:
        return (
            "ai-edge-litert publishes no wheels for 32-bit ARM; the pure-NumPy backend "
            "(backend='numpy', which 'auto' picks) runs the same models here"
        )
    return "pip install ai-edge-litert"


def tensorflow() -> str:
    """How to get TensorFlow here (desktops only)."""
    if _machine() in _ARM32:
        return "TensorFlow has no 32-bit ARM wheels; train and convert on a desktop"
    package = "tensorflow" if _machine() in _ARM64 else "tensorflow-cpu"
    return f"pip install {package} (desktop only; devices use ai-edge-litert)"


def opencv() -> str:
    """How to get OpenCV here."""
    if _machine() in _ARM32:
        return (
            "sudo apt install python3-opencv, in a venv made with --system-site-packages "
            "(PyPI has no 32-bit ARM OpenCV wheels)"
        )
    return "pip install 'digit-kit[camera]' (opencv-python-headless)"
