"""Per-frame processing: find the digits, classify them in one batch, smooth over time, read the number."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from camera_demo.smoothing import Box, TemporalSmoother
from runtime.errors import NoDigitFoundError
from runtime.images import as_gray_u8
from runtime.ink import Polarity
from runtime.segment import MIN_HEIGHT

log = logging.getLogger("camera_demo")


class Judge(Protocol):
    """What the pipeline needs from a classifier (``runtime.DigitClassifier`` provides it)."""

    def predict_proba(self, batch: np.ndarray) -> np.ndarray: ...

    def accepts(self, confidence: float, digit: int) -> bool: ...


@dataclass(frozen=True)
class DigitReading:
    """One digit in a frame: label, smoothed confidence, box (x, y, w, h), track id, and
    whether the acceptance rule accepts it alone (False: a doubted digit its number vouches
    for, as ``digit-classify`` marks it)."""

    digit: int
    confidence: float
    box: Box
    track: int
    accepted: bool = True

    def to_json(self) -> dict:
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 4),
            "accepted": self.accepted,
            "box": list(self.box),
        }


@dataclass(frozen=True)
class FrameReading:
    """What was read in one frame: digits in reading order, the numbers they make, stage
    times (ms)."""

    index: int
    digits: tuple[DigitReading, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    # --roi cells are one number per line (a meter's), however far apart they are.
    apart_at_gaps: bool = True

    @property
    def number(self) -> str:
        """Every digit in reading order, run together ("30561")."""
        return "".join(str(d.digit) for d in self.digits)

    @cached_property
    def numbers(self) -> tuple[str, ...]:
        """The numbers as written: one ends at the end of a line and at a gap between digits
        as wide as between words (``runtime.segment.numbers_in``), so "305" above "61" is
        ("305", "61")."""
        from runtime.segment import numbers_in

        groups = numbers_in([d.box for d in self.digits], self.apart_at_gaps)
        return tuple("".join(str(self.digits[i].digit) for i in group) for group in groups)

    @property
    def shown(self) -> str:
        """The numbers as written, apart by a space ("305 61"): what the overlay, the web view
        and the summary show, and what a change of the reading is measured on."""
        return " ".join(self.numbers)


def parse_roi(text: str) -> Box:
    """Parse ``x,y,w,h`` into a box; raise ``ValueError`` with the reason otherwise."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"expected x,y,w,h as four integers, got {text!r}") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise ValueError(f"ROI {text!r} needs x, y >= 0 and w, h >= 1")
    return x, y, w, h


class FramePipeline:
    """Read the digits of a stream of frames, one classifier call per frame.

    Digits come from ``runtime.segment.read_digits`` (candidates judged, joined and cut by
    recognition), or, when ``rois`` are given, each ROI is one digit cell prepared by
    ``runtime.preprocess.preprocess``. Each digit is followed across frames and its
    probabilities averaged over ``smoothing`` frames, which decide the digit shown. A found digit
    is shown whenever the reader chose it in this frame (its decision, as ``digit-classify``
    reads); an ROI's digit while the acceptance rule (``accepts``) holds for the averaged
    confidence.
    """

    def __init__(
        self,
        classifier: Judge,
        rois: Sequence[Box] = (),
        smoothing: int = 5,
        polarity: Polarity | None = None,
        min_height: float = MIN_HEIGHT,
    ) -> None:
        self.classifier = classifier
        self.min_height = min_height
        self.rois = tuple(rois)
        self._outside: set[tuple[Box, tuple[int, int]]] = set()  # warned of, per frame size
        self.polarity = polarity
        self.smoother = TemporalSmoother(window=smoothing, sure=classifier.accepts)

    def read_each_frame_alone(self) -> None:
        """Stop smoothing: for sources whose frames are separate scenes (a folder of pictures)."""
        self.smoother = TemporalSmoother(window=1)

    def _roi_digits(self, gray: np.ndarray) -> tuple[list[Box], list[np.ndarray], np.ndarray]:
        from runtime.preprocess import preprocess

        boxes, crops = [], []
        height, width = gray.shape
        for x, y, w, h in self.rois:
            x1, y1 = min(x + w, width), min(y + h, height)
            if x >= x1 or y >= y1:
                outside = ((x, y, w, h), (width, height))
                if outside not in self._outside:
                    self._outside.add(outside)
                    log.warning(
                        "--roi %s lies outside the %dx%d frame: it reads nothing",
                        f"{x},{y},{w},{h}",
                        width,
                        height,
                    )
                continue
            try:
                crops.append(preprocess(gray[y:y1, x:x1], self.polarity or "auto"))
            except NoDigitFoundError:
                continue  # an empty cell is not a digit
            boxes.append((x, y, x1 - x, y1 - y))
        if not crops:
            return [], [], np.zeros((0, 10), np.float32)
        probabilities = self.classifier.predict_proba(np.stack(crops))
        return boxes, crops, np.asarray(probabilities, np.float32)

    def _found_digits(self, gray: np.ndarray) -> tuple[list[Box], list[np.ndarray], np.ndarray]:
        from runtime.segment import read_digits

        polarity = self.polarity or "dark_on_light"
        read = read_digits(gray, self.classifier, polarity, min_height=self.min_height)
        if not read:
            return [], [], np.zeros((0, 10), np.float32)
        boxes = [tuple(int(v) for v in region.box) for region, _ in read]
        return boxes, [region.image for region, _ in read], np.stack([row for _, row in read])

    def process(self, image: np.ndarray, index: int) -> FrameReading:
        """Read one frame (any size; any image ``runtime.images`` accepts).

        Digits come in reading order: lines top to bottom, each left to right.
        """
        from runtime.segment import reading_order

        clock = time.perf_counter
        t0 = clock()
        gray = as_gray_u8(image, "frame")
        t1 = clock()
        if self.rois:
            boxes, crops, probabilities = self._roi_digits(gray)
        else:
            boxes, crops, probabilities = self._found_digits(gray)
        t2 = clock()
        smoothed = self.smoother.update(boxes, crops, probabilities)
        digits = []
        for item in smoothed:
            confidence = float(item.probabilities.max())
            digit = int(item.probabilities.argmax())
            # Found digits were chosen by the reader (read_digits: doubted digits its numbers
            # vouch for are kept), exactly as digit-classify reads them; an ROI's crop is
            # judged here.
            accepted = self.classifier.accepts(confidence, digit)
            if not self.rois or accepted:
                digits.append(DigitReading(digit, confidence, item.box, item.track, accepted))
        digits = [digits[i] for i in reading_order([d.box for d in digits])]
        t3 = clock()
        timings = {
            "convert": (t1 - t0) * 1e3,
            "read": (t2 - t1) * 1e3,
            "smooth": (t3 - t2) * 1e3,
        }
        return FrameReading(index, tuple(digits), timings, apart_at_gaps=not self.rois)
