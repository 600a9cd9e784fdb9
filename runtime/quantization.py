"""Affine quantization, the one rounding rule of the kit: TFLite's (round half away from zero).

``real = scale * (q - zero_point)``. TFLite's QUANTIZE kernel and its converter round with
C's ``round`` (``TfLiteRound``), ties away from zero; NumPy's ``rint`` rounds ties to even, so
every place that turns reals into a model's integers (pixels into a quantized input, the
NumPy backend's QUANTIZE, activation bounds) goes through :func:`quantize`.
"""

from __future__ import annotations

import numpy as np


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties away from zero (C's ``round``; NumPy rounds to even)."""
    values = np.asarray(values)
    if values.dtype.itemsize <= 4:
        # |x| + 0.5 is exact in float64 for float32 inputs, so floor gives C's answer.
        wide = values.astype(np.float64)
        return np.copysign(np.floor(np.abs(wide) + 0.5), wide)
    whole = np.trunc(values)
    return whole + np.where(np.abs(values - whole) >= 0.5, np.sign(values), 0)


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Reals -> integers of ``dtype``: ``round(values / scale) + zero_point``, saturated.

    The division is done in float32, as TFLite's reference kernel does.
    """
    info = np.iinfo(dtype)
    levels = round_half_away(np.asarray(values, np.float32) / np.float32(scale)) + zero_point
    return np.clip(levels, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integers -> float32 reals: ``scale * (values - zero_point)``."""
    return (np.asarray(values, np.float32) - np.float32(zero_point)) * np.float32(scale)
