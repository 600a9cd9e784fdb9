"""Per-frame processing: find the digits, classify them in one batch, smooth over time, read the number."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from camera_demo.smoothing import Box, TemporalSmoother
from runtime.errors import NoDigitFoundError
from runtime.images import as_gray_u8


class ProbabilityModel(Protocol):
    """What the pipeline needs from a classifier (``runtime.DigitClassifier`` provides it)."""

    def predict_proba(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class DigitReading:
    """One digit in a frame: label, smoothed confidence, box (x, y, w, h) and track id."""

    digit: int
    confidence: float
    box: Box
    track: int

    def to_json(self) -> dict:
        return {"digit": self.digit, "confidence": round(self.confidence, 4), "box": list(self.box)}


@dataclass(frozen=True)
class FrameReading:
    """What was read in one frame: digits left to right, the number they spell, stage times (ms)."""

    index: int
    digits: tuple[DigitReading, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def number(self) -> str:
        return "".join(str(d.digit) for d in self.digits)


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
    """Read the digits of a stream of frames with one classifier call per frame.

    Regions come from ``runtime.segment.find_digits``, or, when ``rois`` are given, each ROI is
    one digit cell cropped and normalized by ``runtime.preprocess.preprocess``. Digits whose
    smoothed confidence is below ``min_confidence`` are dropped.
    """

    def __init__(
        self,
        classifier: ProbabilityModel,
        rois: Sequence[Box] = (),
        smoothing: int = 5,
        min_confidence: float = 0.5,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be within 0..1, got {min_confidence}")
        self.classifier = classifier
        self.rois = tuple(rois)
        self.min_confidence = min_confidence
        self.smoother = TemporalSmoother(window=smoothing)

    def _roi_regions(self, gray: np.ndarray) -> list[tuple[Box, np.ndarray]]:
        from runtime.preprocess import preprocess

        regions = []
        height, width = gray.shape
        for x, y, w, h in self.rois:
            x1, y1 = min(x + w, width), min(y + h, height)
            if x >= x1 or y >= y1:
                continue  # the ROI lies outside this frame
            try:
                regions.append(((x, y, x1 - x, y1 - y), preprocess(gray[y:y1, x:x1])))
            except NoDigitFoundError:
                continue  # an empty cell is not a digit
        return regions

    def _found_regions(self, gray: np.ndarray) -> list[tuple[Box, np.ndarray]]:
        from runtime.segment import find_digits

        try:
            found = find_digits(gray)
        except NoDigitFoundError:
            return []
        return [(tuple(int(v) for v in r.box), r.image) for r in found]

    def process(self, image: np.ndarray, index: int) -> FrameReading:
        """Read one frame (any size; gray, BGR or BGRA; 8 or 16 bit).

        Digits come in reading order: lines top to bottom, each left to right.
        """
        from runtime.segment import reading_order

        clock = time.perf_counter
        t0 = clock()
        gray = as_gray_u8(image, "frame")
        t1 = clock()
        regions = self._roi_regions(gray) if self.rois else self._found_regions(gray)
        t2 = clock()
        if regions:
            crops = [crop for _, crop in regions]
            probabilities = np.asarray(
                self.classifier.predict_proba(np.stack(crops)), dtype=np.float32
            )
        else:
            crops, probabilities = [], np.zeros((0, 10), np.float32)
        t3 = clock()
        smoothed = self.smoother.update([box for box, _ in regions], crops, probabilities)
        digits = []
        for item in smoothed:
            confidence = float(item.probabilities.max())
            if confidence >= self.min_confidence:
                digits.append(
                    DigitReading(int(item.probabilities.argmax()), confidence, item.box, item.track)
                )
        digits = [digits[i] for i in reading_order([d.box for d in digits])]
        t4 = clock()
        timings = {
            "convert": (t1 - t0) * 1e3,
            "find": (t2 - t1) * 1e3,
            "classify": (t3 - t2) * 1e3,
            "smooth": (t4 - t3) * 1e3,
        }
        return FrameReading(index, tuple(digits), timings)
