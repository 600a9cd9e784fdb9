"""Test doubles and scoring shared by the camera demo's tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from camera_demo import paper, synth
from camera_demo.smoothing import box_iou
from camera_demo.sources import FrameSource

MATCH_IOU = 0.5


VIDEO_HOLD = 6  # frames per page: 360 frames are 60 pages, about 150 different MNIST digits


def write_sample_video(folder: Path, mnist, frames: int) -> tuple[Path, list[synth.FrameTruth]]:
    """A synthetic video of MNIST test digits (``digit-sample-video``) and its ground truth."""
    path = folder / "sample.mp4"
    truth_path = synth.write_video(
        path, mnist.x_test, mnist.y_test, frames, seed=11, hold=VIDEO_HOLD
    )
    return path, synth.load_truth(truth_path)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def score(records: list[dict], truths: list[synth.FrameTruth]) -> tuple[float, float]:
    """Per-digit accuracy (a truth digit counts when a reading with the same label overlaps it)
    and the fraction of frames whose number string is exactly right."""
    assert [r["frame"] for r in records] == [t.frame for t in truths]
    correct = total = exact = 0
    for record, truth in zip(records, truths, strict=True):
        for digit in truth.digits:
            total += 1
            correct += any(
                read["digit"] == digit.digit and box_iou(tuple(read["box"]), digit.box) >= MATCH_IOU
                for read in record["digits"]
            )
        exact += record["number"] == truth.number
    return correct / total, exact / len(truths)


class FakeCapture:
    """Stands in for cv2.VideoCapture: replays ``results`` ((ok, frame) pairs), then fails."""

    def __init__(self, results: list[tuple[bool, np.ndarray | None]], opened: bool = True) -> None:
        self.results = list(results)
        self.opened = opened
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        return self.results.pop(0) if self.results else (False, None)

    def grab(self) -> bool:
        return self.read()[0]

    def release(self) -> None:
        self.released = True

    def get(self, prop_id: int) -> float:
        return 0.0  # what OpenCV answers for a property a backend does not know


class ListSource(FrameSource):
    """A finite in-memory source that records whether it was closed."""

    description = "test frames"

    def __init__(self, images: list[np.ndarray], interrupt_at: int | None = None) -> None:
        super().__init__()
        self.images = list(images)
        self.interrupt_at = interrupt_at
        self.closed = False

    def _next_image(self):
        if self.interrupt_at is not None and self._count == self.interrupt_at:
            raise KeyboardInterrupt
        return (self.images.pop(0), "") if self.images else None

    def close(self) -> None:
        self.closed = True


def page_frame(mnist, indices: list[int], seed: int = 0) -> tuple[np.ndarray, synth.FrameTruth]:
    """One synthetic camera frame holding the given MNIST test digits, left to right."""
    rng = np.random.default_rng(seed)
    row = paper.written_row(rng, mnist.x_test, mnist.y_test, indices=indices)
    view, boxes = paper.camera_view(row, rng)
    digits = tuple(
        synth.PlacedDigit(label, box, index)
        for label, box, index in zip(row.labels, boxes, row.indices, strict=True)
    )
    return view, synth.FrameTruth(0, digits)


class FakeWindow:
    """A window that 'presses' the given keys, one per shown frame (-1 = none)."""

    def __init__(self, keys: list[int]) -> None:
        self.keys = list(keys)
        self.shown: list[np.ndarray] = []
        self.closed = False

    def show(self, view: np.ndarray, wait_ms: int = 1) -> int:
        self.shown.append(view)
        return self.keys.pop(0) if self.keys else -1

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.closed = True
