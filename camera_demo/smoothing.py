"""Temporal smoothing: follow each digit across frames and average its class probabilities.

A digit seen by a camera is classified anew every frame; noise and small moves make a
borderline digit flip between two labels. Each detection is matched to a track from recent
frames by box overlap (IoU) *and* by the look of its 28x28 crop, and reported with the mean of
the track's last ``window`` probability vectors. A new track starts when a different digit
appears where another one was, so a scene change does not inherit old labels: when the crops
differ, or when the classifier is sure of the new digit (``sure``: its acceptance rule) and it
is not the track's. Crops alone do not tell every pair apart (a 5 and a 0 of one typeface
correlate above the crop check's bar), and a meter turning from 1235 to 1240 must not read
1245 for a few frames. Smoothing steadies the readings the classifier is unsure of.

Hand-written because OpenCV's trackers follow pixels per object (slow) rather than associating
detections, and a greedy match is plenty for the handful of digits in a frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def signatures(crops: list[np.ndarray]) -> np.ndarray:
    """Zero-mean unit-norm rows, one per crop, so a dot product is two crops' correlation."""
    vectors = np.stack(crops).reshape(len(crops), -1).astype(np.float32)
    vectors -= vectors.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


@dataclass
class _Track:
    ident: int
    box: Box
    signature: np.ndarray
    last_seen: int
    history: deque
    total: np.ndarray  # running sum of ``history``

    def digit(self) -> int:
        """The digit the track reads now (the argmax of its window's mean)."""
        return int(self.total.argmax())

    def add(self, probabilities: np.ndarray) -> np.ndarray:
        """Append one frame's probabilities; return the mean over the window."""
        if len(self.history) == self.history.maxlen:
            self.total -= self.history[0]
        self.history.append(probabilities)
        self.total += probabilities
        return self.total / len(self.history)


@dataclass(frozen=True)
class Smoothed:
    """A detection after smoothing: its track id, box and averaged probabilities."""

    track: int
    box: Box
    probabilities: np.ndarray
    frames: int  # how many frames the average covers


class TemporalSmoother:
    """Average each digit's probabilities over the last ``window`` frames it was seen in.

    ``window=1`` turns smoothing off. A track unseen for more than ``max_missing`` frames is
    forgotten. A detection joins a track when their boxes overlap by ``min_iou`` and their
    crops correlate by at least ``min_similarity``, unless ``sure(confidence, digit)`` holds for
    the detection's own reading of another digit than the track's. The 0.7 default comes from
    synthetic camera frames: the same digit in consecutive frames correlated >= 0.77, a
    different digit <= 0.70 (99% of pairs <= 0.61).
    """

    def __init__(
        self,
        window: int = 5,
        max_missing: int | None = None,
        min_iou: float = 0.3,
        min_similarity: float = 0.7,
        sure: Callable[[float, int], bool] | None = None,
    ) -> None:
        if window < 1:
            raise ValueError(f"smoothing window must be at least 1 frame, got {window}")
        self.window = window
        self.max_missing = window if max_missing is None else max_missing
        self.min_iou = min_iou
        self.min_similarity = min_similarity
        self.sure = sure
        self._tracks: list[_Track] = []
        self._frame = -1
        self._next_id = 0

    def reset(self) -> None:
        """Forget all tracks (for a new scene or source)."""
        self._tracks.clear()

    def _match(
        self, boxes: list[Box], signed: np.ndarray, probabilities: np.ndarray
    ) -> dict[int, _Track]:
        """Greedy matching, best (IoU + crop correlation) first; returns detection -> track."""
        if not self._tracks or not boxes:
            return {}
        digits = probabilities.argmax(axis=1).tolist()
        confidences = probabilities.max(axis=1).tolist()
        sure = [
            self.sure is not None and self.sure(confidence, digit)
            for confidence, digit in zip(confidences, digits, strict=True)
        ]
        # Few boxes per frame: scalar IoU in Python beats NumPy's per-call overhead here.
        similarity = (np.stack([t.signature for t in self._tracks]) @ signed.T).tolist()
        candidates = []
        for t, track in enumerate(self._tracks):
            for d, box in enumerate(boxes):
                iou = box_iou(track.box, box)
                if iou < self.min_iou or similarity[t][d] < self.min_similarity:
                    continue
                if sure[d] and digits[d] != track.digit():
                    continue  # the classifier is sure this is another digit
                candidates.append((iou + similarity[t][d], t, d))
        matched: dict[int, _Track] = {}
        used_tracks: set[int] = set()
        for _, t, d in sorted(candidates, reverse=True):
            if t not in used_tracks and d not in matched:
                used_tracks.add(t)
                matched[d] = self._tracks[t]
        return matched

    def update(
        self, boxes: list[Box], crops: list[np.ndarray], probabilities: np.ndarray
    ) -> list[Smoothed]:
        """Take one frame's detections; return them smoothed, in the same order."""
        self._frame += 1
        self._tracks = [t for t in self._tracks if self._frame - t.last_seen <= self.max_missing]
        if not boxes:
            return []
        signed = signatures(crops)
        matched = self._match(boxes, signed, probabilities)
        results: list[Smoothed] = []
        for d, box in enumerate(boxes):
            track = matched.get(d)
            if track is None:
                track = _Track(
                    self._next_id,
                    box,
                    signed[d],
                    self._frame,
                    deque(maxlen=self.window),
                    np.zeros(probabilities.shape[1], np.float64),
                )
                self._next_id += 1
                self._tracks.append(track)
            track.box, track.signature, track.last_seen = box, signed[d], self._frame
            mean = track.add(probabilities[d].astype(np.float64))
            results.append(Smoothed(track.ident, box, mean.astype(np.float32), len(track.history)))
        return results
