"""Placing a written number on a page: glyphs in a row along a baseline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmarks.corpora.photo import ink_points, paint


def row_width(alphas: Sequence[np.ndarray], gaps: Sequence[float]) -> float:
    """Width of ``alphas`` side by side with ``gaps`` (px, negative = overlapping) between."""
    return float(sum(alpha.shape[1] for alpha in alphas) + sum(gaps))


def write_row(
    page: np.ndarray,
    alphas: Sequence[np.ndarray],
    gaps: Sequence[float],
    x: float,
    baseline: float,
    color: np.ndarray,
    opacity: float,
    rng: np.random.Generator,
    wobble: float = 0.04,
) -> list[np.ndarray]:
    """Paint ``alphas`` left to right from ``x``, bottoms on ``baseline`` give or take
    ``wobble`` x their height; return each glyph's ink points (page coordinates)."""
    inks = []
    for position, alpha in enumerate(alphas):
        height, width = alpha.shape
        top = round(baseline - height + rng.uniform(-wobble, wobble) * height)
        left = round(x)
        paint(page, alpha * opacity, color, left, top)
        inks.append(ink_points(alpha, left, top))
        x += width + (gaps[position] if position < len(gaps) else 0.0)
    return inks
