"""``digit-sample-video``: a sample video of MNIST test digits written on paper, with ground truth.

    digit-sample-video sample.mp4 --frames 300 --seed 0 --data /path/to/mnist

Each arrangement ("page") holds 1-4 digits in a row at a random position, height and slant,
on paper with texture and uneven lighting (``camera_demo.paper``). The page is held for
``--hold`` frames while the "camera" shakes by a pixel or two and its sensor adds fresh noise,
so a reader sees the same digits several times (which is what temporal smoothing is for).
Beside the video a ground truth ``<name>.json`` lists, per frame, each digit's label and ink
box and the number string. Exit codes follow ``runtime.cli_common``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camera_demo.paper import Box, camera_view, written_row
from runtime.atomic import atomic_path, write_json
from runtime.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    console_script,
    float_in_range,
    frame_size,
    int_at_least,
    interruption,
    make_parser,
    output_file,
    print_error,
    print_note,
)
from runtime.errors import DigitKitError
from runtime.images import require_opencv

PROG = "digit-sample-video"
# Codecs that the opencv-python-headless wheels can encode without extra libraries.
CODECS = {".mp4": "mp4v", ".avi": "MJPG"}
DEFAULT_SIZE = (640, 480)
MAX_DIGITS = 4


@dataclass(frozen=True)
class PlacedDigit:
    """One digit on a frame: its label, ink bounding box (x, y, w, h) and MNIST test index."""

    digit: int
    box: Box
    mnist_index: int


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one frame: its digits left to right and the number they spell."""

    frame: int
    digits: tuple[PlacedDigit, ...]

    @property
    def number(self) -> str:
        return "".join(str(d.digit) for d in self.digits)

    def to_json(self) -> dict:
        return {
            "frame": self.frame,
            "number": self.number,
            "digits": [
                {"digit": d.digit, "box": list(d.box), "mnist_index": d.mnist_index}
                for d in self.digits
            ],
        }


def render_frames(
    images: np.ndarray,
    labels: np.ndarray,
    frames: int,
    seed: int = 0,
    hold: int = 12,
    size: tuple[int, int] = DEFAULT_SIZE,
) -> Iterator[tuple[np.ndarray, FrameTruth]]:
    """Yield ``frames`` BGR uint8 frames with their ground truth, a new page every ``hold`` frames."""
    if frames < 1 or hold < 1:
        raise ValueError(f"frames and hold must be at least 1 (got frames={frames}, hold={hold})")
    rng = np.random.default_rng(seed)
    for index in range(frames):
        if index % hold == 0:
            row = written_row(rng, images, labels, size, max_digits=MAX_DIGITS)
        view, boxes = camera_view(row, rng)
        digits = tuple(
            PlacedDigit(label, box, source)
            for label, box, source in zip(row.labels, boxes, row.indices, strict=True)
        )
        yield view, FrameTruth(index, digits)


def truth_path(video_path: str | Path) -> Path:
    """Where the ground truth of ``video_path`` is written: the same name with ``.json``."""
    return Path(video_path).with_suffix(".json")


def write_video(
    path: str | Path,
    images: np.ndarray,
    labels: np.ndarray,
    frames: int,
    seed: int = 0,
    hold: int = 12,
    fps: float = 15.0,
    size: tuple[int, int] = DEFAULT_SIZE,
) -> Path:
    """Render a sample video to ``path`` (.mp4 or .avi) and its ground truth beside it, atomically.

    Returns the ground-truth JSON path.
    """
    cv2 = require_opencv()
    path = Path(path)
    codec = CODECS.get(path.suffix.lower())
    if codec is None:
        raise DigitKitError(
            f"cannot write {path.name}: use a .mp4 (mp4v) or .avi (MJPG) file name, the containers "
            "OpenCV can encode without extra codecs"
        )
    truths: list[dict] = []
    with atomic_path(path, suffix=path.suffix) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, size)
        if not writer.isOpened():
            raise DigitKitError(f"OpenCV cannot open a {codec} video writer for {path}")
        try:
            for view, truth in render_frames(images, labels, frames, seed, hold, size):
                writer.write(view)
                truths.append(truth.to_json())
        finally:
            writer.release()
    meta = {
        "video": path.name,
        "frame_count": frames,
        "fps": fps,
        "width": size[0],
        "height": size[1],
        "seed": seed,
        "hold": hold,
        "digits_source": "MNIST test set",
        "frames": truths,
    }
    return write_json(truth_path(path), meta)


def load_truth(path: str | Path) -> list[FrameTruth]:
    """Read a ground-truth JSON written by :func:`write_video`."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        FrameTruth(
            item["frame"],
            tuple(
                PlacedDigit(d["digit"], tuple(d["box"]), d["mnist_index"]) for d in item["digits"]
            ),
        )
        for item in raw["frames"]
    ]


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(
        PROG, "Generate a sample video of MNIST test digits written on paper, with ground truth."
    )
    parser.add_argument("output", type=output_file, help="video file to write (.mp4 or .avi)")
    parser.add_argument("--frames", type=int_at_least(1), default=300, help="number of frames")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="MNIST directory (default: $DIGIT_KIT_MNIST_DIR, else Keras' cache)",
    )
    parser.add_argument(
        "--hold", type=int_at_least(1), default=12, help="frames per arrangement of digits"
    )
    parser.add_argument(
        "--fps",
        type=float_in_range(1.0, 240.0),
        default=15.0,
        help="frame rate stored in the video",
    )
    parser.add_argument(
        "--size", type=frame_size(64), default="640x480", help="frame size WIDTHxHEIGHT"
    )
    return parser


@console_script
def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        from train.data import load_mnist

        mnist = load_mnist(args.data)
        truth = write_video(
            args.output,
            mnist.x_test,
            mnist.y_test,
            args.frames,
            args.seed,
            args.hold,
            args.fps,
            args.size,
        )
    except KeyboardInterrupt as exc:
        reason, code = interruption(exc)
        print_error(PROG, f"{reason}; no video was written")
        return code
    except DigitKitError as exc:
        print_error(PROG, exc)
        return EXIT_BAD_INPUT
    print_note(PROG, f"wrote {args.output} ({args.frames} frames) and its ground truth {truth}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
