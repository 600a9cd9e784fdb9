"""Failure images for looking at: the input with the truth and the reading drawn on it."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from benchmarks.corpora.scoring import Outcome, Reading

TRUTH = (0, 170, 0)  # green: truth boxes
ACCEPTED = (0, 0, 230)  # red: accepted digits
REJECTED = (0, 150, 255)  # orange: regions classified but not accepted
CROP_SIDE = 56


def file_name(outcome: Outcome, reading: Reading) -> str:
    """``<corpus>-<split>-<index>[-<tag>]_truth-<text>_read-<text>.png``; for a single digit
    the read part is ``<best guess>-<confidence>-<accepted|rejected>`` or ``nodigit``."""
    item = outcome.item
    tags = "-".join(value for _, value in item.tags)
    stem = f"{item.corpus}-{item.split}-{item.index:05d}-{tags}"
    if item.single and reading.digits:
        best = reading.digits[0]
        verdict = "accepted" if best.accepted else "rejected"
        read = f"{best.digit}-{best.confidence:.2f}-{verdict}"
    elif item.single:
        read = "nodigit"
    else:
        read = outcome.read or "none"
    name = f"{stem}_truth-{item.text or 'none'}_read-{read}.png"
    return re.sub(r"[^A-Za-z0-9._-]", "", name.replace(" ", ""))


def annotated(outcome: Outcome, reading: Reading, mnist_form: np.ndarray | None) -> np.ndarray:
    """The input with truth boxes and read regions drawn, the 28x28 images the classifier saw
    below (frames) or beside it (single digits), each labelled digit/confidence."""
    image = outcome.item.image.copy()
    for x, y, w, h in outcome.item.boxes:
        cv2.rectangle(image, (x - 2, y - 2), (x + w + 1, y + h + 1), TRUTH, 1)
    crops = []
    for digit in reading.digits:
        color = ACCEPTED if digit.accepted else REJECTED
        label = f"{digit.digit} {digit.confidence:.2f}"
        if digit.box is not None:
            x, y, w, h = digit.box
            cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), color, 1)
            cv2.putText(image, label, (x, max(10, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1)
        crop = digit.image if digit.image is not None else mnist_form
        if crop is not None:
            crops.append((_tile(crop, color), label))
    if outcome.item.single:
        side = max(CROP_SIDE * 2, image.shape[0])
        scale = side / image.shape[0]
        image = cv2.resize(
            image, (round(image.shape[1] * scale), side), interpolation=cv2.INTER_NEAREST
        )
        panels = [image] + [
            cv2.resize(tile, (side, side), interpolation=cv2.INTER_NEAREST) for tile, _ in crops
        ]
        return np.hstack(panels)
    if not crops:
        return image
    strip = np.full((CROP_SIDE + 16, image.shape[1], 3), 255, np.uint8)
    for position, (tile, label) in enumerate(crops[: image.shape[1] // (CROP_SIDE + 4)]):
        x = position * (CROP_SIDE + 4)
        strip[:CROP_SIDE, x : x + CROP_SIDE] = tile
        cv2.putText(strip, label, (x, CROP_SIDE + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
    return np.vstack([image, strip])


def _tile(mnist_form: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """A 28x28 MNIST-form image enlarged to a framed colour tile."""
    gray = cv2.resize(mnist_form, (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_NEAREST)
    tile = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    cv2.rectangle(tile, (0, 0), (CROP_SIDE - 1, CROP_SIDE - 1), color, 1)
    return tile


def write(
    directory: Path, outcome: Outcome, reading: Reading, mnist_form: np.ndarray | None
) -> Path:
    """Write ``outcome``'s failure image into ``directory``; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(outcome, reading)
    if not cv2.imwrite(str(path), annotated(outcome, reading, mnist_form)):
        raise OSError(f"could not write {path}")
    return path
