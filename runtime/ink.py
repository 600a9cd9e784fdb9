"""Separate ink from paper: polarity, paper brightness, relative ink strength, threshold.

The paper's brightness is estimated at low resolution by a morphological closing, so uneven
light and shadow edges cancel; ink is the relative darkness ``1 - gray / paper``; the
threshold adapts to the paper's noise and texture. Shared by ``runtime.preprocess`` (one
digit) and ``runtime.segment`` (whole camera frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from runtime.images import shrink

Polarity = Literal["auto", "dark_on_light", "light_on_dark"]
POLARITIES = ("auto", "dark_on_light", "light_on_dark")
# Paper darker than this is not lit well enough to tell ink from noise by a ratio.
_MIN_PAPER = 40.0
# Skewness beyond which the local-median residual shows a clear one-sided ink tail: thin
# ink measured 2.3..13, dense ink (where the local median fails) within +-1.8.
_CLEAR_SKEW = 2.0
# Polarity is decided on a thumbnail this small (long side, px): enough to see the strokes.
_POLARITY_SIDE = 48
# Above this robust noise sigma (gray levels) the threshold is decided on a median-filtered
# copy of the ink.
_NOISY = 3.0
# Otsu's split finds ink in a histogram when it explains _BIMODAL of the variance and the
# upper class lies _INK_SEPARATION paper sigmas above the paper.
_BIMODAL = 0.85
_INK_SEPARATION = 8.0
# The polarity fallback of ink_map wants a stroke at least this share of the picture's height
# or width: the one-digit path's pictures show their digit large (these measured 55-85%).
_FALLBACK_SPAN = 0.25
_SQUARE_3 = np.ones((3, 3), np.uint8)
# ink_map's thumbnail side (px) for the paper estimate and the polarity guess.
THUMB_SIDE = 64


@dataclass(frozen=True)
class InkMap:
    """Background-free ink of a grayscale image.

    ``ink``: uint8, 0 where the paper is and larger the darker (or, for light-on-dark input,
    brighter) the ink is against its local background, with the paper's typical ``level``
    already subtracted; ``mask``: uint8 0/255, the pixels that are clearly ink (``ink`` at
    least ``threshold``, which adapts to the paper's noise and texture);
    ``paper``: uint8, the estimated paper brightness (of the inverted image for light-on-dark
    input); ``dark_on_light``: the polarity that was used.
    """

    ink: np.ndarray
    mask: np.ndarray
    threshold: int
    paper: np.ndarray
    level: int
    dark_on_light: bool


def ink_map(
    gray: np.ndarray,
    polarity: Polarity = "auto",
    min_contrast: float = 24.0,
    noise_sigmas: float = 5.0,
    max_stroke: float = 0.3,
    thumb_side: int = THUMB_SIDE,
) -> InkMap:
    """Separate ink from paper in a uint8 grayscale image.

    The paper's brightness is estimated on a ``thumb_side`` thumbnail by a morphological
    closing wide enough to erase strokes up to ``max_stroke`` x the longest side; it follows
    uneven light and straight shadow edges exactly. Ink is the relative darkness
    ``1 - gray / paper`` (scaled to 0..255), so a digit in a dim corner is as strong as one
    in the light. A pixel is ink when that exceeds ``min_contrast`` and ``noise_sigmas`` x
    the robust noise level of the paper (which keeps noise, texture and JPEG blocks out).
    Light-on-dark images are inverted first. With ``polarity="auto"`` the polarity is guessed
    (``is_dark_on_light``); when the guess finds no ink at all, the other polarity is used if
    it finds a stroke spanning ``_FALLBACK_SPAN`` of the picture (a dark digit in a dim,
    vignetted photo can skew the gray levels the wrong way; the pixel noise of a blank
    gradient is not a digit).
    """
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    # NaN or 255 and above would find no ink, or garble what is found.
    if isinstance(min_contrast, bool) or not (
        isinstance(min_contrast, int | float) and 0.0 <= min_contrast < 255.0
    ):
        raise ValueError(f"min_contrast must be a gray level in 0..254, got {min_contrast!r}")
    thumb, step = shrink(gray, thumb_side)

    def separated(dark: bool) -> InkMap:
        return _ink_map(gray, thumb, step, dark, min_contrast, noise_sigmas, max_stroke)

    if polarity != "auto":
        return separated(polarity == "dark_on_light")
    guess = is_dark_on_light(thumb)
    found = separated(guess)
    if found.mask.any():
        return found
    other = separated(not guess)
    return other if holds_a_stroke(other.mask) else found


def holds_a_stroke(mask: np.ndarray) -> bool:
    """Does a piece of the 0/255 ``mask`` clear of its border span ``_FALLBACK_SPAN`` of its
    height or width? (What the wrong polarity sees of uneven light runs into the border;
    pixel noise is specks.)"""
    import cv2

    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return False
    height, width = mask.shape
    x, y = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    inside = (x > 0) & (y > 0) & (x + w < width) & (y + h < height)
    spans = np.maximum(h / height, w / width)
    return bool((inside & (spans >= _FALLBACK_SPAN)).any())


def _ink_map(
    gray: np.ndarray,
    thumb: np.ndarray,
    step: int,
    dark: bool,
    min_contrast: float,
    noise_sigmas: float,
    max_stroke: float,
) -> InkMap:
    """``ink_map`` for a known polarity (``dark``: dark ink on light paper), given ``gray``'s
    thumbnail and its reduction ``step``."""
    import cv2

    if not dark:
        thumb = cv2.bitwise_not(thumb)
    paper = paper_level(thumb, _odd(max_stroke * max(thumb.shape) + 2))
    if step > 1:
        paper = cv2.resize(paper, gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
    _, lit = cv2.threshold(paper, _MIN_PAPER, 255, cv2.THRESH_BINARY)
    ink = relative_ink(gray, paper, dark, lit)

    level, sigma = _paper_statistics(ink, lit)
    decided = ink
    if sigma > _NOISY:
        # Heavy pixel noise: decide on a median-filtered copy, whose noise is much lower.
        decided = cv2.medianBlur(ink, 3)
        level, sigma = _paper_statistics(decided, lit)
    threshold = int(min(255, np.ceil(level + max(min_contrast, noise_sigmas * sigma))))
    _, mask = cv2.threshold(decided, threshold - 1, 255, cv2.THRESH_BINARY)
    return InkMap(
        ink=cv2.subtract(ink, level),
        mask=mask,
        threshold=threshold - level,
        paper=paper,
        level=level,
        dark_on_light=dark,
    )


def relative_ink(
    gray: np.ndarray, paper: np.ndarray, dark_on_light: bool, lit: np.ndarray | None = None
) -> np.ndarray:
    """Ink strength 0..255 = ``1 - gray / paper`` (gray inverted first for light-on-dark).

    Where the paper estimate is below ``_MIN_PAPER`` (a dark table, a deep shadow; ``lit``
    is that 0/255 mask when already known) the ratio is meaningless and the ink is 0.
    """
    import cv2

    if not dark_on_light:
        gray = cv2.bitwise_not(gray)
    if lit is None:
        _, lit = cv2.threshold(paper, _MIN_PAPER, 255, cv2.THRESH_BINARY)
    ink = cv2.bitwise_not(cv2.divide(gray, paper, scale=255.0))
    return cv2.bitwise_and(ink, lit)


def paper_level(thumb: np.ndarray, kernel_size: int) -> np.ndarray:
    """Brightness of the paper under dark ink: a closing by a ``kernel_size`` square.

    A closing leaves any function that is monotone along one direction (a lighting ramp,
    a straight shadow edge) unchanged while erasing dark strokes narrower than the kernel.
    The thumbnail is padded by odd reflection (``2 * edge - mirror``), which continues a
    ramp past the border; OpenCV's own borders would bend it and fake ink along the edges.
    """
    import cv2

    pad = kernel_size // 2 + 1
    levels = thumb.astype(np.float32)
    edge = cv2.copyMakeBorder(levels, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    mirror = cv2.copyMakeBorder(levels, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    padded = cv2.addWeighted(edge, 2.0, mirror, -1.0, 0.0)  # odd reflection
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel_size, kernel_size))
    closed = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, kernel)[pad:-pad, pad:-pad]
    return np.clip(closed, 0.0, 255.0).astype(np.uint8)


def is_dark_on_light(thumb: np.ndarray) -> bool:
    """Polarity of a (small) grayscale image: is the ink darker than its surroundings?

    Ink is a one-sided tail of the gray levels, so the sign of the skewness of the residual
    from the background tells the polarity. Two backgrounds: a local median (1/3 of the
    image: follows uneven light and shadows, ignores thin strokes) is trusted when its
    residual is clearly skewed; when it is not, the strokes are so dense (a tight crop of a
    thick digit) that the local median sees ink, and the global median decides.
    """
    import cv2

    thumb, _ = shrink(thumb, _POLARITY_SIDE)
    levels = thumb.astype(np.float32)
    local = _skewness(levels - cv2.medianBlur(thumb, _odd(max(thumb.shape) / 3)))
    if abs(local) >= _CLEAR_SKEW:
        return local < 0.0
    return _skewness(levels - float(np.median(levels))) < 0.0


def _skewness(values: np.ndarray) -> float:
    centered = values - values.mean()
    spread = float(centered.std())
    return float(np.mean(centered * centered * centered)) / spread**3 if spread > 0 else 0.0


def _odd(value: float) -> int:
    size = max(3, round(value))
    return size if size % 2 else size + 1


def _paper_statistics(ink: np.ndarray, lit: np.ndarray) -> tuple[int, float]:
    """Median and robust sigma (1.4826 x MAD) of the paper in an ink map (~20k-pixel sample
    of the ``lit`` pixels: unlit regions carry no ink and would fake a noiseless paper).

    Usually the paper is most of the pixels and the whole histogram describes it. A tight
    crop of a bold digit can be half ink, though: when Otsu's split separates two clear
    modes (the split explains ``_BIMODAL`` of the variance and the upper class lies
    ``_INK_SEPARATION`` paper sigmas above), only the class below describes the paper.
    """
    import cv2

    step = max(1, int(np.ceil(np.sqrt(ink.size / 20_000))))
    sample = np.ascontiguousarray(ink[::step, ::step])
    sample_lit = np.ascontiguousarray(lit[::step, ::step])
    hist = cv2.calcHist([sample], [0], sample_lit, [256], [0, 256]).ravel().astype(np.float64)
    if hist.sum() == 0:
        return 0, 0.0
    level, sigma = _median_and_sigma(hist)
    cut, between, total = _otsu(hist)
    above = hist[cut:]
    if total == 0 or between < _BIMODAL * total or above.sum() == 0:
        return level, sigma
    values = np.arange(256, dtype=np.float64)
    mean_above = float(np.dot(values[cut:], above) / above.sum())
    paper_level, paper_sigma = _median_and_sigma(np.concatenate([hist[:cut], np.zeros(256 - cut)]))
    if mean_above - paper_level > _INK_SEPARATION * max(paper_sigma, 1.0):
        return paper_level, paper_sigma
    return level, sigma


def _otsu(hist: np.ndarray) -> tuple[int, float, float]:
    """Otsu's split of a 256-bin histogram: (first bin of the upper class, between-class
    variance, total variance). Hand-written because OpenCV's Otsu takes an image, not a
    masked histogram."""
    values = np.arange(256, dtype=np.float64)
    total = hist.sum()
    weight_below = np.cumsum(hist)[:-1] / total
    mass_below = np.cumsum(hist * values)[:-1] / total
    mean = mass_below[-1] + hist[-1] * 255.0 / total
    weight_above = 1.0 - weight_below
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean * weight_below - mass_below) ** 2 / (weight_below * weight_above)
    between[~np.isfinite(between)] = 0.0
    split = int(np.argmax(between))
    variance = float(np.dot((values - mean) ** 2, hist) / total)
    return split + 1, float(between[split]), variance


def _median_and_sigma(hist: np.ndarray) -> tuple[int, float]:
    median = histogram_percentile(hist, 50)
    deviations = np.bincount(np.abs(np.arange(256) - median), weights=hist, minlength=256)
    return median, 1.4826 * histogram_percentile(deviations, 50)


def histogram_percentile(hist: np.ndarray, percent: float) -> int:
    """The ``percent`` percentile (lower value) of the uint8 values counted in ``hist``.

    np.percentile sorts; on a 256-bin histogram a cumulative sum is much cheaper.
    """
    cumulative = np.cumsum(hist)
    rank = max(1.0, np.ceil(cumulative[-1] * percent / 100.0))
    return int(np.searchsorted(cumulative, rank))


def ink_percentile(ink: np.ndarray, percent: float) -> int:
    """Percentile of the non-zero levels of a uint8 ink image (0 when there is no ink)."""
    import cv2

    hist = cv2.calcHist([ink], [0], None, [256], [0, 256]).ravel()
    hist[0] = 0
    return histogram_percentile(hist, percent) if hist.any() else 0


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a binary mask: 2 x area / boundary length.

    A stroke of width w and length L has area w*L and a boundary of about 2*L pixels.
    """
    import cv2

    inner = cv2.erode(mask, _SQUARE_3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    area = cv2.countNonZero(mask)
    boundary = area - cv2.countNonZero(inner)
    return 2.0 * area / max(boundary, 1)
