"""Turn an image of one handwritten digit into the 28x28 MNIST form the classifier expects.

This is MNIST's own preparation, applied to a photo: the digit's ink, its bounding box scaled
(keeping the aspect ratio) so the longest side is 20 px with anti-aliased gray edges, placed
in a 28x28 field with its centre of mass at the centre. ``preprocess`` gets there in three
steps, none of which can break a digit apart:

1. ``runtime.images.as_gray_u8``: validate the array, convert it to 8-bit grayscale;
2. ``runtime.ink.ink_map``: detect the polarity, divide out the paper's (uneven) brightness
   and threshold what is clearly ink;
3. ``ink_to_mnist``: every piece of ink except isolated specks is the digit (a stroke drawn
   in two pieces, a broken pen line and the dot of a bold 0's hole all stay), cut to its
   box and brought to MNIST form, its strokes thinned if they are bolder than MNIST's.

A picture cut at its digit's box is read again framed by its paper (see
``_read_as_cut_at_its_digit``).

``runtime.segment`` uses ``ink_to_mnist`` for each digit it finds in a camera frame.
"""

from __future__ import annotations

import numpy as np

from runtime.errors import ImageError, NoDigitFoundError
from runtime.images import as_gray_u8, require_opencv, shrink, to_u8, validated_array
from runtime.ink import (
    THUMB_SIDE,
    InkMap,
    Polarity,
    holds_a_stroke,
    ink_map,
    is_dark_on_light,
)
from runtime.proposals import MAX_PIECES

MNIST_SIZE = 28
MNIST_BOX = 20
# MNIST puts the centre of mass at pixel index 14.0 (x and y, cv2.moments convention),
# measured on the test set: mean 14.00, spread 0.29 = integer shifts.
MNIST_CENTER = 14.0
# MNIST's margin around its 20 px digit box, per side, as a share of the box: 4 / 20.
_MNIST_MARGIN = (MNIST_SIZE - MNIST_BOX) / 2 / MNIST_BOX
# MNIST strokes saturate in their middle: the stroke core (this percentile of the 20 px digit's
# ink levels) is brought to full white, the anti-aliased edges stay gray.
_CORE_PERCENTILE = 90
# A piece of ink smaller than this fraction of the digit's ink is a speck, not a stroke.
_SPECK = 0.01
_FAINT = 0.125
# Largest side the single-digit path works at; bigger photos are shrunk first (INTER_AREA).
MAX_WORK_SIDE = 512
_SQUARE_3 = np.ones((3, 3), np.uint8)
# 95% of MNIST's training digits have strokes at most this wide in MNIST form (px; see
# ``stroke_width``; tests/test_preprocess.py measures it). A bolder digit (a marker, a bold
# font) is thinned towards it, at most _MOST_THINNING times by one pixel: the classifier
# doubts strokes wider than it learned (a bold open 4 of the reading benchmark's tune split:
# 0.37 as it is, 0.77 thinned once).
MNIST_STROKE_WIDTH = 3.75
_MOST_THINNING = 2
_SQUARE_2 = np.ones((2, 2), np.uint8)
_CLEAR_INK = 128


def preprocess(
    image: np.ndarray, polarity: Polarity = "auto", min_contrast: float = 24.0
) -> np.ndarray:
    """Return a 28x28 uint8 MNIST-form digit (white on black) from an image of one digit.

    ``image``: any array ``runtime.images`` accepts (gray or BGR/BGRA, any dtype it allows),
    any size, either polarity (``polarity="auto"`` detects it), uneven light and noise
    allowed. ``min_contrast``: gray levels (of 255) ink must differ from the paper by. Raises
    ``ImageError`` for an invalid array and ``NoDigitFoundError`` when the image holds no ink.
    """
    gray, _ = shrink(as_gray_u8(image), MAX_WORK_SIDE)
    found = ink_map(gray, polarity=polarity, min_contrast=min_contrast)
    digit = without_specks(found.mask) if found.mask.any() else None
    cut = _read_as_cut_at_its_digit(gray, found, digit, polarity, min_contrast)
    if cut is not None:
        found, digit = cut
    if digit is None:
        raise NoDigitFoundError("the image holds no ink that differs from the background")
    return ink_to_mnist(found.ink, digit)


def _read_as_cut_at_its_digit(
    gray: np.ndarray,
    found: InkMap,
    digit: np.ndarray | None,
    polarity: Polarity,
    min_contrast: float,
) -> tuple[InkMap, np.ndarray] | None:
    """The reading of a picture cut at or near its digit's box (a program's own crop), or None.

    Such a picture shows little or no paper around the digit: the paper's level and noise,
    and in auto mode the polarity, cannot be told from it (a "1" finds no ink, a bold 9's
    hole is taken for its ink). Framed by a margin of its paper (its edge's median level,
    as wide for the picture as MNIST's margin for its 20 px box), it looks like any photo of
    a digit. It is read framed when the first reading found no digit or one spanning the
    whole picture, or the framed picture shows the other polarity; the framed reading is
    kept when its digit is in at most ``MAX_PIECES`` pieces (pixel noise is in many) and
    spans the picture (the digit was cut at its box) or, read in the first reading's
    polarity, holds a stroke clear of the picture's edge (what framing does to uneven light
    runs into the edge).
    """
    cv2 = require_opencv()
    margin = max(2, round(max(gray.shape) * _MNIST_MARGIN))
    paper = float(np.median(_border(gray)))
    dark = found.dark_on_light
    if polarity == "auto":
        thumb, step = shrink(gray, THUMB_SIDE)
        thumb_margin = [max(1, round(margin / step))] * 4
        dark = is_dark_on_light(
            cv2.copyMakeBorder(thumb, *thumb_margin, cv2.BORDER_CONSTANT, value=paper)
        )
    suspect = digit is None or _spans(digit)
    if not suspect and dark == found.dark_on_light:
        return None
    framed = ink_map(
        cv2.copyMakeBorder(gray, *[margin] * 4, cv2.BORDER_CONSTANT, value=paper),
        "dark_on_light" if dark else "light_on_dark",
        min_contrast=min_contrast,
    )
    inner = framed.mask[margin:-margin, margin:-margin]
    if not inner.any():
        return None
    digit_ink = without_specks(inner)
    if _pieces(digit_ink) > MAX_PIECES:
        return None  # pixel noise, not a digit in a few strokes
    same_polarity = dark == found.dark_on_light
    clear_stroke = holds_a_stroke(inner) and not _border(inner).any()
    if not (_spans(digit_ink) or (clear_stroke and same_polarity)):
        return None
    mask = np.zeros_like(framed.mask)
    mask[margin:-margin, margin:-margin] = digit_ink
    return framed, mask


def _pieces(mask: np.ndarray) -> int:
    return require_opencv().connectedComponents(mask, connectivity=8)[0] - 1


def _spans(mask: np.ndarray) -> bool:
    """Does the 0/255 ``mask`` reach all four edges of its picture?"""
    return bool(mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any())


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels along an image's four edges."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def without_specks(mask: np.ndarray) -> np.ndarray:
    """The 0/255 ``mask`` without its specks: pieces under ``_SPECK`` of all the ink.

    Raises ``NoDigitFoundError`` when nothing is left.
    """
    cv2 = require_opencv()
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        raise NoDigitFoundError("the image holds no ink that differs from the background")
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, np.uint8)
    keep[1:][areas >= _SPECK * areas.sum()] = 255
    return keep[labels]


def to_mnist(crop: np.ndarray) -> np.ndarray:
    """Turn a crop of ink (white on black) into a 28x28 uint8 MNIST digit.

    ``crop`` is 2-D: a bool mask, uint8 ink (0 = no ink) or float ink in 0..1; all of its
    ink is the digit. Raises ``NoDigitFoundError`` when the crop has no ink.
    """
    arr = validated_array(crop, "crop")
    if arr.ndim != 2:
        raise ImageError(f"to_mnist takes a 2-D ink crop; got shape {arr.shape}")
    ink = np.ascontiguousarray(to_u8(arr, "crop"))
    # Levels under _FAINT of the strongest ink (resampling ringing, a gray crop's haze) do
    # not count toward the digit's box.
    clear = ink >= max(1, int(ink.max()) * _FAINT)
    return ink_to_mnist(ink, np.where(clear, np.uint8(255), np.uint8(0)))


def ink_to_mnist(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """MNIST form of the digit whose clear ink is the 0/255 ``mask`` over uint8 ``ink`` levels.

    The soft ink next to the mask (the anti-aliased fringe below the threshold) belongs to
    the digit too. The box of the mask is scaled so its long side is 20 px (INTER_AREA when
    shrinking: MNIST's anti-aliasing), the levels are stretched so the stroke core is white,
    and the digit is placed in 28x28 with its centre of mass at the centre.
    """
    cv2 = require_opencv()
    x, y, width, height = cv2.boundingRect(mask)
    if width == 0 or height == 0:
        raise NoDigitFoundError("the crop holds no ink")
    near = cv2.dilate(mask[y : y + height, x : x + width], _SQUARE_3)
    digit = _in_mnist_box(cv2.bitwise_and(ink[y : y + height, x : x + width], near))
    if stroke_width(digit) <= MNIST_STROKE_WIDTH:
        return digit
    pieces = _clear_pieces(digit)
    thinner = _thinned(digit, pieces)
    if thinner is digit:
        return digit
    x, y, width, height = cv2.boundingRect(thinner)
    thinner = _in_mnist_box(thinner[y : y + height, x : x + width])
    return thinner if _clear_pieces(thinner) == pieces else digit


def _in_mnist_box(digit: np.ndarray) -> np.ndarray:
    """The uint8 ink ``digit`` (cut to its box) scaled so its long side is 20 px, its stroke
    core white, placed in 28x28 with its centre of mass at the centre."""
    cv2 = require_opencv()
    height, width = digit.shape
    scale = MNIST_BOX / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(digit, size, interpolation=interpolation)
    small = cv2.convertScaleAbs(small, alpha=255.0 / _core_level(small))
    moments = cv2.moments(small)
    if moments["m00"] == 0:
        raise NoDigitFoundError("the crop's ink vanished when scaled to 20 px")
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.uint8)
    small_h, small_w = small.shape
    left = _clamp(round(MNIST_CENTER - moments["m10"] / moments["m00"]), MNIST_SIZE - small_w)
    top = _clamp(round(MNIST_CENTER - moments["m01"] / moments["m00"]), MNIST_SIZE - small_h)
    out[top : top + small_h, left : left + small_w] = small
    return out


def stroke_width(digit: np.ndarray) -> float:
    """The mean stroke width (px) of a 28x28 MNIST-form digit: the area of its clear ink
    over half its outline's length (a stroke of length L and width w: L * w / L)."""
    cv2 = require_opencv()
    clear = (digit >= _CLEAR_INK).astype(np.uint8)
    outlines, _ = cv2.findContours(clear, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    length = sum(cv2.arcLength(outline, True) for outline in outlines)
    return 2.0 * float(clear.sum()) / max(length, 1.0)


def _thinned(digit: np.ndarray, pieces: int) -> np.ndarray:
    """``digit``, whose strokes are wider than ``MNIST_STROKE_WIDTH`` and whose clear ink is in
    ``pieces`` pieces, thinned by a pixel at a time until they are not, never into more pieces
    (a stroke's narrow neck stays joined); ``digit`` itself when the first pixel would break it."""
    cv2 = require_opencv()
    for _ in range(_MOST_THINNING):
        thinner = cv2.erode(digit, _SQUARE_2)
        if _clear_pieces(thinner) != pieces:
            break
        digit = thinner
        if stroke_width(digit) <= MNIST_STROKE_WIDTH:
            break
    return digit


def _clear_pieces(digit: np.ndarray) -> int:
    return _pieces((digit >= _CLEAR_INK).astype(np.uint8))


def _core_level(digit: np.ndarray) -> float:
    """The stroke core's ink level: a high percentile of the digit's non-zero levels."""
    cv2 = require_opencv()
    hist = cv2.calcHist([digit], [0], None, [256], [0, 256]).ravel()
    hist[0] = 0
    total = hist.sum()
    if total == 0:
        raise NoDigitFoundError("the crop holds no ink")
    rank = np.searchsorted(np.cumsum(hist), total * _CORE_PERCENTILE / 100.0)
    return float(max(1, rank))


def _clamp(offset: int, limit: int) -> int:
    return int(min(max(offset, 0), limit))
