"""Turn an image of one handwritten digit into the 28x28 MNIST form the classifier expects.

The MNIST recipe: a white digit on black, its bounding box scaled (keeping the aspect ratio)
so the longest side is 20 px with anti-aliased gray edges, placed in a 28x28 field with its
centre of mass at the centre. ``preprocess`` gets there from a photo or scan:

1. ``runtime.images.as_gray_u8``: validate the array, convert it to 8-bit grayscale;
2. ``runtime.ink.ink_map``: detect the polarity, divide out the paper's (uneven) brightness
   and threshold what is clearly ink;
3. ``digit_components``: keep the digit's connected components, dropping specks;
4. ``to_mnist``: crop the soft ink to its bounding box, bring a pen far off MNIST's stroke
   width to it, scale to 20 px, stretch the gray levels, centre by mass.

``runtime.segment`` reuses steps 1, 2 and 4 for whole camera frames.
"""

from __future__ import annotations

import numpy as np

from runtime.errors import ImageError, NoDigitFoundError
from runtime.images import as_gray_u8, require_opencv, shrink, to_u8, validated_array
from runtime.ink import Polarity, ink_map, ink_percentile, stroke_width

MNIST_SIZE = 28
MNIST_BOX = 20
# MNIST puts the centre of mass at pixel index 14.0 (x and y, cv2.moments convention),
# measured on the test set: mean 14.00, spread 0.29 = integer shifts.
MNIST_CENTER = 14.0
# The stroke core (this percentile of the ink levels) is stretched to 255, as in MNIST,
# whose strokes saturate in the middle with soft gray edges.
INK_PEAK = 255.0
_PEAK_PERCENTILE = 75
# Stroke width / bounding-box long side of MNIST test digits, measured through this very
# code (median 0.093, 2nd..98th percentile 0.066..0.161); pens outside the band are
# re-stroked to the median.
MNIST_STROKE = 0.093
_STROKE_BAND = (0.065, 0.16)
# Ink fainter than 1/_FAINT of the stroke level does not count toward the digit's box.
_FAINT = 8
# Larger crops are shrunk to this long side (px) to measure and adjust the stroke width.
_STROKE_CANVAS = 80
_SQUARE_3 = np.ones((3, 3), np.uint8)
# Largest side the single-digit path works at; bigger photos are shrunk first (INTER_AREA).
MAX_WORK_SIDE = 512


def preprocess(
    image: np.ndarray, polarity: Polarity = "auto", min_contrast: float = 24.0
) -> np.ndarray:
    """Return a 28x28 uint8 MNIST-form digit (white on black) from an image of one digit.

    ``image``: grayscale (H, W) or BGR/BGRA (H, W, 3|4), dtype bool, uint8, uint16 or float
    (0..1 or 0..255), any size, either polarity (``polarity="auto"`` detects it), uneven
    light and noise allowed. ``min_contrast``: gray levels (of 255) ink must differ from
    the paper by. Raises ``ImageError`` for an invalid array and ``NoDigitFoundError`` when
    the image holds no ink.
    """
    cv2 = require_opencv()
    gray, _ = shrink(as_gray_u8(image), MAX_WORK_SIDE)
    found = ink_map(gray, polarity=polarity, min_contrast=min_contrast)
    digit_mask = digit_components(found.mask)
    # The dilation lets in the anti-aliased fringe that lies below the threshold.
    near_digit = cv2.dilate(digit_mask, _SQUARE_3)
    return to_mnist(cv2.bitwise_and(found.ink, near_digit))


def digit_components(
    mask: np.ndarray, min_piece: float = 0.04, max_gap: float = 0.35
) -> np.ndarray:
    """Keep the connected components of ``mask`` that form the one digit; return a 0/255 mask.

    The largest component anchors the digit; another one joins it when it has at least
    ``min_piece`` x its area and lies within ``max_gap`` x the digit's height of it (a
    stroke drawn in two pieces), or is at least half its size. Everything else is a speck.
    """
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        raise NoDigitFoundError("the image holds no ink that differs from the background")
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(areas)[::-1] + 1
    anchor = stats[order[0]]
    x0, y0 = anchor[0], anchor[1]
    x1, y1 = x0 + anchor[2], y0 + anchor[3]
    keep = [order[0]]
    for label in order[1:]:
        left, top, width, height, area = stats[label]
        if area < min_piece * anchor[4]:
            break
        gap_x = max(0, left - x1, x0 - (left + width))
        gap_y = max(0, top - y1, y0 - (top + height))
        if area * 2 >= anchor[4] or max(gap_x, gap_y) <= max_gap * (y1 - y0):
            keep.append(label)
            x0, y0 = min(x0, left), min(y0, top)
            x1, y1 = max(x1, left + width), max(y1, top + height)
    lookup = np.zeros(count, np.uint8)
    lookup[keep] = 255
    return lookup[labels]


def to_mnist(crop: np.ndarray, normalize_stroke: bool = True) -> np.ndarray:
    """Turn a crop of ink (white on black) into a 28x28 uint8 MNIST digit.

    ``crop`` is 2-D: a bool mask, uint8 ink (0 = no ink) or float ink in 0..1. It is cut to
    the box of its ink (levels under 1/8 of the stroke level ignored), the longest side
    scaled to 20 px keeping the aspect ratio (INTER_AREA when shrinking), the gray levels
    stretched so the stroke core reaches 255, and the result placed in 28x28 with its
    centre of mass at the centre. With ``normalize_stroke`` a pen much thinner or thicker
    than MNIST's is brought to the typical MNIST stroke width first. Raises
    ``NoDigitFoundError`` when the crop has no ink.
    """
    arr = validated_array(crop)
    if arr.ndim != 2:
        raise ImageError(f"to_mnist takes a 2-D ink crop; got shape {arr.shape}")
    return ink_to_mnist(np.ascontiguousarray(to_u8(arr)), normalize_stroke)


def ink_to_mnist(ink: np.ndarray, normalize_stroke: bool = True) -> np.ndarray:
    """``to_mnist`` for a crop already known to be 2-D uint8 (no validation)."""
    require_opencv()
    import cv2

    ink = _crop_to_ink(ink)
    if normalize_stroke:
        if max(ink.shape) > _STROKE_CANVAS:
            ink = _resize_long_side(ink, _STROKE_CANVAS)
        if _stroke_is_off(ink):
            ink = _crop_to_ink(_restroke(_resize_long_side(ink, _STROKE_CANVAS)))
    digit = _stretch_to_peak(_resize_long_side(ink, MNIST_BOX))

    moments = cv2.moments(digit)
    if moments["m00"] == 0:
        raise NoDigitFoundError("the crop's ink vanished when scaled to 20 px")
    height, width = digit.shape
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.uint8)
    left = _clamp(round(MNIST_CENTER - moments["m10"] / moments["m00"]), MNIST_SIZE - width)
    top = _clamp(round(MNIST_CENTER - moments["m01"] / moments["m00"]), MNIST_SIZE - height)
    out[top : top + height, left : left + width] = digit
    return out


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """Crop to the box of the ink, ignoring faint levels (under 1/_FAINT of the stroke
    level) that a gray crop's background or resampling ringing may hold."""
    import cv2

    peak = ink_percentile(ink, _PEAK_PERCENTILE)
    if peak == 0:
        raise NoDigitFoundError("the crop holds no ink")
    _, clear = cv2.threshold(ink, peak // _FAINT, 255, cv2.THRESH_BINARY)
    x, y, width, height = cv2.boundingRect(clear)
    return ink[y : y + height, x : x + width]


def _resize_long_side(ink: np.ndarray, side: int) -> np.ndarray:
    import cv2

    height, width = ink.shape
    scale = side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(ink, size, interpolation=interpolation)


def _core_stroke_ratio(ink: np.ndarray) -> tuple[float, float]:
    """Stroke width (px) of the ink's core (at least half the typical stroke level) and that
    width as a fraction of the crop's long side."""
    import cv2

    _, core = cv2.threshold(ink, ink_percentile(ink, _PEAK_PERCENTILE) // 2, 255, cv2.THRESH_BINARY)
    width = stroke_width(core)
    return width, width / max(ink.shape)


def _stroke_is_off(ink: np.ndarray) -> bool:
    """Is the pen far thinner or thicker than MNIST's?"""
    _, ratio = _core_stroke_ratio(ink)
    return not _STROKE_BAND[0] <= ratio <= _STROKE_BAND[1]


def _restroke(ink: np.ndarray) -> np.ndarray:
    """Dilate or erode (gray-level, keeping soft edges) the pen to MNIST's stroke width."""
    import cv2

    width, _ = _core_stroke_ratio(ink)
    radius = round((MNIST_STROKE * max(ink.shape) - width) / 2)
    if radius == 0:
        return ink
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1,) * 2)
    if radius > 0:
        return cv2.dilate(np.pad(ink, radius), kernel)
    thinned = cv2.erode(ink, kernel)
    # Never erode a digit away: a pen that uneven keeps its own width.
    return thinned if cv2.countNonZero(thinned) >= 0.25 * cv2.countNonZero(ink) else ink


def _stretch_to_peak(digit: np.ndarray) -> np.ndarray:
    """Scale gray levels so the stroke core (upper part of the ink's levels) reaches 255."""
    import cv2

    peak = max(1, ink_percentile(digit, _PEAK_PERCENTILE))
    return cv2.convertScaleAbs(digit, alpha=INK_PEAK / peak)


def _clamp(offset: int, limit: int) -> int:
    return int(min(max(offset, 0), limit))
