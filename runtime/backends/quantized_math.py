"""TFLite's integer arithmetic, vectorized in NumPy (for the pure-NumPy backend).

Hand-written because no library exposes these kernels to Python. Mirrors TFLite's
``QuantizeMultiplier``, ``MultiplyByQuantizedMultiplier`` (single-rounding variant) and
``TfLiteRound`` (round half away from zero), so quantized layers produce the same integers
as LiteRT's kernels.
"""

from __future__ import annotations

import numpy as np

from runtime.quantization import round_half_away

_INT8_PRODUCT_BOUND = 128 * 128
_FLOAT32_EXACT_INTEGERS = 2**24
_SPARSE_MIN_WEIGHTS = 2**16


def exact_matmul_dtype(depth: int) -> np.dtype:
    """A float dtype in which an int8 x int8 dot product of length ``depth`` is exact.

    Every partial sum is an integer of magnitude at most ``depth * 128 * 128``; float32 holds
    all integers up to 2**24 exactly, so up to ``depth`` 1024 BLAS sgemm gives the exact
    integer accumulation TFLite does in int32, much faster than NumPy's integer matmul.
    """
    if depth * _INT8_PRODUCT_BOUND <= _FLOAT32_EXACT_INTEGERS:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


class IntegerMatmul:
    """``x @ weights`` for int8 operands with exact integer results (int64).

    :meth:`sparse_row` serves the batch-1 case: once its zero point is subtracted, the
    activation entering a layer is mostly zeros (blank pixels, ReLU), and a matrix-vector
    product is bound by reading the weights, so multiplying only the weight rows of non-zero
    entries saves time (about a tenth of a batch-1 call on the kit's int8 MLP).
    """

    def __init__(self, weights: np.ndarray) -> None:
        """``weights`` is an int8 ``(depth, units)`` matrix."""
        depth = weights.shape[0]
        self._dtype = exact_matmul_dtype(depth)
        self._weights = np.ascontiguousarray(weights, dtype=self._dtype)
        # Gathering rows pays off below half density; entries of magnitude up to 255 keep
        # float32 exact while count * 255 * 128 <= 2**24.
        exact_count = depth if self._dtype == np.float64 else _FLOAT32_EXACT_INTEGERS // (255 * 128)
        self._sparse_limit = min(depth // 2, exact_count)
        # Small matrices sit in cache: there, gathering costs more NumPy calls than it saves.
        self.sparse_pays = weights.size >= _SPARSE_MIN_WEIGHTS

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x`` is ``(rows, depth)`` of integers in the int8 range (any dtype); returns int64."""
        return (x.astype(self._dtype, copy=False) @ self._weights).astype(np.int64)

    def sparse_row(self, row: np.ndarray) -> np.ndarray | None:
        """``row @ weights`` as int64 ``(1, units)`` for one ``(depth,)`` row of integers in
        -255..255, or None when the row is too dense for gathering to pay off."""
        nonzero = np.flatnonzero(row)
        if len(nonzero) > self._sparse_limit:
            return None
        return (row[nonzero].astype(self._dtype) @ self._weights[nonzero]).astype(np.int64)[None]


def quantize_multiplier(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's ``QuantizeMultiplier``: real = multiplier * 2**(shift - 31), multiplier in Q31."""
    real = np.asarray(real, dtype=np.float64)
    mantissa, shift = np.frexp(real)
    multiplier = round_half_away(mantissa * 2.0**31).astype(np.int64)
    carry = multiplier == 2**31
    multiplier[carry] //= 2
    shift = shift.astype(np.int64) + carry
    negligible = (shift < -31) | (real == 0)
    multiplier[negligible] = 0
    shift[negligible] = 0
    too_large = shift > 30  # single rounding cannot shift left by more than 30: saturate
    multiplier[too_large] = 2**31 - 1
    shift[too_large] = 30
    return multiplier, shift


class QuantizedRescale:
    """``MultiplyByQuantizedMultiplier(x + bias, m, s) + zero_point`` for per-channel constants.

    LiteRT is built with ``TFLITE_SINGLE_ROUNDING`` (its reference kernels match it bit for
    bit, the gemmlowp double-rounding variant does not): ``(x * m + 2**(30 - s)) >> (31 - s)``.
    Adding ``bias * m`` and ``zero_point << (31 - s)`` before the shift gives the same integers,
    so one multiply, one add and one shift do it all when the sums provably fit int64.
    """

    def __init__(
        self,
        real_multipliers: np.ndarray,
        bias: np.ndarray | int = 0,
        zero_point: int = 0,
        value_bound: int = 2**31,
    ) -> None:
        """``value_bound`` bounds ``|x|`` (not ``x + bias``) for the overflow check."""
        multiplier, shift = quantize_multiplier(real_multipliers)
        bias = np.asarray(bias, dtype=np.int64)
        total_shift = 31 - shift
        offset = (np.int64(1) << (total_shift - 1)) + bias * multiplier
        with np.errstate(over="ignore"):
            shifted_zero = np.int64(zero_point) << total_shift
        largest = (
            value_bound * multiplier + np.abs(offset) + abs(zero_point) * 2.0**total_shift
        ).max()
        self._fused = bool(largest < 2**62)
        self._multiplier, self._total_shift = multiplier, total_shift
        self._bias, self._zero_point = bias, zero_point
        self._round = np.int64(1) << (total_shift - 1)
        self._offset = offset + shifted_zero if self._fused else None

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Rescale int64 ``values`` (multipliers broadcast on the last axis), in place."""
        if self._fused:
            values *= self._multiplier
            values += self._offset
            values >>= self._total_shift
            return values
        values += self._bias  # |x + bias| < 2**31 as in TFLite's int32 accumulator
        values *= self._multiplier
        values += self._round
        values >>= self._total_shift
        values += self._zero_point
        return values
