"""argparse value types shared by the kit's command-line tools (train, convert, camera_demo)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type for integers no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def float_in_range(low: float, high: float) -> Callable[[str], float]:
    """An argparse type for numbers within ``low..high`` (inclusive)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number in {low:g}..{high:g}, got {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must lie within {low:g}..{high:g}, got {value:g}")
        return value

    return parse


def frame_size(minimum: int = 1) -> Callable[[str], tuple[int, int]]:
    """An argparse type for ``WIDTHxHEIGHT`` frame sizes, each side at least ``minimum``."""

    def parse(text: str) -> tuple[int, int]:
        try:
            width, height = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected WIDTHxHEIGHT such as 640x480, got {text!r}"
            ) from None
        if width < minimum or height < minimum:
            raise argparse.ArgumentTypeError(
                f"frame size {text} is too small (at least {minimum}x{minimum})"
            )
        return width, height

    return parse
