"""Printed patterns of stationery: ruled lines, a margin line, binder holes, graph paper."""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.corpora.photo import paint

# Line colours (BGR): notebook blue, grey, graph-paper green, orange-brown.
RULING = ((210, 170, 130), (175, 175, 175), (170, 200, 150), (140, 170, 215))
MARGIN_RED = (110, 110, 225)
_SUBPIXEL = 4  # cv2 drawing with fractional coordinates: 4 bits


def _lines(
    shape: tuple[int, int],
    positions: np.ndarray,
    horizontal: bool,
    thickness: int,
    slope: float = 0.0,
) -> np.ndarray:
    """An alpha (float32 0..1) of anti-aliased full-length lines at ``positions``."""
    height, width = shape
    canvas = np.zeros(shape, np.uint8)
    scale = 1 << _SUBPIXEL
    length = width if horizontal else height
    for pos in positions:
        start, end = pos, pos + slope * length
        if horizontal:
            p0, p1 = (0, start), (width - 1, end)
        else:
            p0, p1 = (start, 0), (end, height - 1)
        cv2.line(
            canvas,
            (round(p0[0] * scale), round(p0[1] * scale)),
            (round(p1[0] * scale), round(p1[1] * scale)),
            255,
            thickness,
            cv2.LINE_AA,
            _SUBPIXEL,
        )
    return canvas.astype(np.float32) / 255.0


def ruling_color(rng: np.random.Generator) -> np.ndarray:
    """A line colour for ruled or graph paper (BGR float32)."""
    return np.array(RULING[int(rng.integers(len(RULING)))], np.float32)


def draw_ruled(
    page: np.ndarray,
    rng: np.random.Generator,
    spacing: float,
    phase: float | None = None,
    color: np.ndarray | None = None,
) -> np.ndarray:
    """Rule ``page`` with horizontal lines ``spacing`` px apart; return their y positions."""
    height = page.shape[0]
    phase = rng.uniform(0, spacing) if phase is None else phase % spacing
    positions = np.arange(phase, height + spacing, spacing)
    strength = rng.uniform(0.45, 0.9)
    thickness = 1 if rng.random() < 0.7 else 2
    color = ruling_color(rng) if color is None else color
    paint(page, _lines(page.shape[:2], positions, True, thickness) * strength, color)
    return positions


def draw_margin(page: np.ndarray, rng: np.random.Generator, x: float) -> None:
    """A red margin line (sometimes doubled) at ``x``."""
    positions = [x] if rng.random() < 0.7 else [x, x + rng.uniform(3, 6)]
    alpha = _lines(page.shape[:2], np.array(positions), False, 1 + int(rng.random() < 0.4))
    paint(page, alpha * rng.uniform(0.5, 0.9), np.array(MARGIN_RED, np.float32))


def draw_holes(page: np.ndarray, rng: np.random.Generator, x: float, backdrop: np.ndarray) -> None:
    """Binder holes down the left side: round cut-outs showing the ``backdrop`` colour."""
    height = page.shape[0]
    radius = rng.uniform(9, 16)
    gap = rng.uniform(6, 12) * radius
    canvas = np.zeros(page.shape[:2], np.uint8)
    for y in np.arange(rng.uniform(0, gap), height, gap):
        cv2.circle(canvas, (round(x), round(y)), round(radius), 255, -1, cv2.LINE_AA)
    paint(page, canvas.astype(np.float32) / 255.0, backdrop)


def draw_grid(page: np.ndarray, rng: np.random.Generator, spacing: float) -> None:
    """Graph paper: lines every ``spacing`` px both ways, maybe a stronger line every 5."""
    height, width = page.shape[:2]
    color = ruling_color(rng)
    strength = rng.uniform(0.35, 0.8)
    xs = np.arange(rng.uniform(0, spacing), width, spacing)
    ys = np.arange(rng.uniform(0, spacing), height, spacing)
    alpha = np.maximum(_lines((height, width), xs, False, 1), _lines((height, width), ys, True, 1))
    if rng.random() < 0.5:
        major = int(rng.integers(5))
        strong = np.maximum(
            _lines((height, width), xs[major::5], False, 2),
            _lines((height, width), ys[major::5], True, 2),
        )
        alpha = np.maximum(alpha, strong)
    paint(page, alpha * strength, color)
