"""Find the handwritten digits in a photo (e.g. a camera frame of a page) and read them.

``find_digits`` searches a reduced copy of the frame (``WORK_SIDE``) to stay within a couple
of milliseconds per 640x480 frame, and cuts each digit's 28x28 MNIST-form image at a
resolution that keeps its detail. It ignores specks, ruled lines, margins and page edges,
anything touching the frame edge, textures, shadows' and page edges' fringes, and blobs
too big, too small or too solid to be a digit (``runtime.ruled_lines``,
``runtime.regions``). A frame with no digit gives an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from runtime.errors import NoDigitFoundError
from runtime.images import as_gray_u8, shrink
from runtime.ink import InkMap, Polarity, ink_map, relative_ink
from runtime.preprocess import ink_to_mnist
from runtime.regions import Box, candidate_digits
from runtime.ruled_lines import remove_ruled_lines

if TYPE_CHECKING:
    from runtime.classifier import Prediction

# Detection resolution (longest side, px): 640x480 frames are searched at 320x240.
WORK_SIDE = 320
# Regions at least this many work pixels tall or wide are cut from the work image; smaller
# ones from the full-resolution frame, so a 20 px MNIST digit never comes from a blurry crop.
_DETAILED_ENOUGH = 40
# Paper brightness is estimated on a thumbnail of this long side (px), erasing strokes up to
# _MAX_STROKE of the frame's long side wide.
_THUMB_SIDE = 80
_MAX_STROKE = 0.1


@dataclass(frozen=True, eq=False)
class DigitRegion:
    """One digit found in a frame: ``box`` (x, y, w, h) in the frame's pixels and ``image``,
    its 28x28 uint8 MNIST-form crop (white on black) ready for the classifier.

    Compared by identity: element-wise array equality has no single truth value."""

    box: Box
    image: np.ndarray


@dataclass(frozen=True)
class ReadDigit:
    """A digit region and the classifier's prediction for it."""

    region: DigitRegion
    prediction: Prediction


@dataclass(frozen=True)
class NumberReading:
    """The digits read from a frame in reading order; ``text`` holds the accepted ones."""

    text: str
    digits: tuple[ReadDigit, ...]


class BatchClassifier(Protocol):
    """What ``read_number`` needs from a classifier (``runtime.DigitClassifier`` fits)."""

    def predict_batch(self, images: list[np.ndarray]) -> list[Prediction]: ...


def find_digits(
    image: np.ndarray,
    polarity: Polarity = "dark_on_light",
    min_contrast: float = 24.0,
    min_height: float = 0.04,
    max_height: float = 0.8,
) -> list[DigitRegion]:
    """Return the digits in ``image``, left to right, lines top to bottom.

    ``image``: any array ``runtime.images.as_gray_u8`` accepts (a BGR camera frame, a
    grayscale scan, ...). ``polarity``: pen on paper by default; ``"light_on_dark"`` for
    chalk on a board, ``"auto"`` to guess (a frame's big bright and dark areas, such as a
    page on a table, can mislead the guess). ``min_height`` / ``max_height``: a digit's
    height as a fraction of the frame's height. ``min_contrast``: how much darker than the
    paper ink must be (gray levels of 255, relative to the local paper brightness).
    Returns ``[]`` when the frame holds no digit; raises ``ImageError`` for a bad array.
    """
    if not 0.0 < min_height < max_height <= 1.0:
        raise ValueError(
            f"need 0 < min_height < max_height <= 1, got min_height={min_height}, "
            f"max_height={max_height}"
        )
    gray = as_gray_u8(image)
    work, step = shrink(gray, WORK_SIDE)
    found = ink_map(work, polarity, min_contrast, max_stroke=_MAX_STROKE, thumb_side=_THUMB_SIDE)
    mask = remove_ruled_lines(found.mask)
    height = work.shape[0]
    shortest, tallest = max(6.0, min_height * height), max_height * height
    regions = []
    for box, region_mask in candidate_digits(mask, found, shortest, tallest):
        full_box, crop = _digit_crop(gray, found, step, box, region_mask)
        try:
            regions.append(DigitRegion(box=full_box, image=ink_to_mnist(crop)))
        except NoDigitFoundError:  # ink too faint at full resolution: not a digit after all
            continue
    order = reading_order([region.box for region in regions])
    return [regions[index] for index in order]


def read_number(
    image: np.ndarray,
    classifier: BatchClassifier,
    min_confidence: float | None = None,
    polarity: Polarity = "dark_on_light",
) -> NumberReading:
    """Find the digits in ``image`` and classify them all in one ``predict_batch`` call.

    ``text`` keeps the digits the classifier accepted, or, with ``min_confidence``, those
    predicted at least that confidently. ``polarity`` as for ``find_digits``.
    """
    regions = find_digits(image, polarity=polarity)
    if not regions:
        return NumberReading(text="", digits=())
    predictions = classifier.predict_batch([region.image for region in regions])
    digits = tuple(
        ReadDigit(region, pred) for region, pred in zip(regions, predictions, strict=True)
    )
    text = "".join(
        str(item.prediction.digit)
        for item in digits
        if (
            item.prediction.accepted
            if min_confidence is None
            else item.prediction.confidence >= min_confidence
        )
    )
    return NumberReading(text=text, digits=digits)


def reading_order(boxes: list[Box]) -> list[int]:
    """Indices of ``boxes`` (x, y, w, h) in reading order: lines top to bottom, each left to right.

    A box joins a line when its vertical centre lies within the line's vertical extent.
    """
    lines: list[list[int]] = []
    extents: list[list[float]] = []
    for index in sorted(range(len(boxes)), key=lambda i: boxes[i][1] + boxes[i][3] / 2):
        _, y, _, h = boxes[index]
        centre = y + h / 2
        for line, extent in zip(lines, extents, strict=True):
            if extent[0] <= centre <= extent[1]:
                line.append(index)
                extent[0], extent[1] = min(extent[0], y), max(extent[1], y + h)
                break
        else:
            lines.append([index])
            extents.append([y, y + h])
    return [index for line in lines for index in sorted(line, key=lambda i: boxes[i][0])]


def _digit_crop(
    gray: np.ndarray,
    found: InkMap,
    step: int,
    box: Box,
    region_mask: np.ndarray,
) -> tuple[Box, np.ndarray]:
    """The region's box in frame pixels and its ink: cut from the work image when that
    holds enough detail for a 20 px digit, else recomputed from the full-resolution frame."""
    import cv2

    x, y, w, h = box
    frame_h, frame_w = gray.shape
    x0, y0 = x * step, y * step
    x1, y1 = min(frame_w, (x + w) * step), min(frame_h, (y + h) * step)
    if step == 1 or max(w, h) >= _DETAILED_ENOUGH:
        ink, keep, reach = found.ink[y : y + h, x : x + w], region_mask, 3
    else:
        size = (x1 - x0, y1 - y0)
        paper = cv2.resize(found.paper[y : y + h, x : x + w], size, interpolation=cv2.INTER_LINEAR)
        ink = cv2.subtract(
            relative_ink(gray[y0:y1, x0:x1], paper, found.dark_on_light), found.level
        )
        keep = cv2.resize(region_mask, size, interpolation=cv2.INTER_NEAREST)
        reach = 2 * step + 1
    # The dilation lets in the anti-aliased fringe below the threshold, but not other regions.
    keep = cv2.dilate(keep, cv2.getStructuringElement(cv2.MORPH_RECT, (reach, reach)))
    return (x0, y0, x1 - x0, y1 - y0), cv2.bitwise_and(ink, keep)
