"""Sample video generator: MNIST test digits written as dark ink on paper, seen by a camera.

    python -m camera_demo.synth sample.mp4 --frames 300 --seed 0 --data /path/to/mnist

Each arrangement ("page") holds 1-4 digits in a row at a random position, height and slant,
on paper with texture and uneven lighting. The page is held for ``--hold`` frames while the
"camera" shakes by a pixel or two and its sensor adds fresh noise, so a reader sees the same
digits several times (which is what temporal smoothing is for). Beside the video a ground
truth ``<name>.json`` lists, per frame, each digit's label and ink box and the number string.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime.atomic import atomic_path, write_json
from runtime.cli_common import frame_size, int_at_least
from runtime.errors import DigitKitError

Box = tuple[int, int, int, int]

# Codecs that the opencv-python-headless wheels can encode without extra libraries.
CODECS = {".mp4": "mp4v", ".avi": "MJPG"}
DEFAULT_SIZE = (640, 480)
MAX_DIGITS = 4
MNIST_INK_SPAN = 20.0  # MNIST digits are scaled to fit 20x20 pixels inside the 28x28 image
INK_ALPHA_FOR_BOX = 0.25  # ink coverage above which a pixel counts toward a digit's box
# Camera shake between frames of one page: shift (px), turn (degrees), zoom (fraction).
MAX_SHAKE_PX = 2.0
MAX_SHAKE_DEG = 0.8
MAX_SHAKE_ZOOM = 0.02
MAX_ROTATION_DEG = 10.0
MARGIN_PX = 20  # keeps digits inside the frame whatever the shake


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


@dataclass(frozen=True)
class Page:
    """One arrangement before the camera: composited paper and ink, plus its imaging conditions."""

    image: np.ndarray  # float32 (H, W, 3) BGR
    digits: tuple[PlacedDigit, ...]
    blur_sigma: float
    noise_sigma: float


def _paper(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    import cv2

    width, height = size
    yy, xx = np.mgrid[-1.0 : 1.0 : complex(height), -1.0 : 1.0 : complex(width)].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    gradient = (math.cos(angle) * xx + math.sin(angle) * yy) * rng.uniform(8, 35)
    vignette = -(xx**2 + yy**2) * rng.uniform(0, 25)
    coarse = rng.normal(0, 1, (height // 16 + 2, width // 16 + 2)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(2, 6)
    grain = cv2.GaussianBlur(rng.normal(0, 2.0, (height, width)).astype(np.float32), (0, 0), 0.8)
    gray = rng.uniform(175, 235) + gradient + vignette + texture + grain
    tint = np.array([rng.uniform(0.88, 1.0), rng.uniform(0.95, 1.0), 1.0], dtype=np.float32)
    return gray[:, :, None] * tint


def _ink_color(rng: np.random.Generator) -> np.ndarray:
    darkness = rng.uniform(10, 70)
    if rng.random() < 0.5:  # graphite / black pen
        return np.full(3, darkness, dtype=np.float32)
    return np.array([darkness + 70, darkness + 20, darkness], dtype=np.float32)  # blue pen (BGR)


def _digit_patch(image28: np.ndarray, scale: float, angle: float) -> np.ndarray:
    """Rotate and scale one MNIST digit into a tight float alpha patch (0..1)."""
    import cv2

    side = math.ceil(28 * scale * 1.5) + 2
    matrix = cv2.getRotationMatrix2D((14.0, 14.0), angle, scale)
    matrix[:, 2] += (side / 2 - 14.0, side / 2 - 14.0)
    alpha = cv2.warpAffine(
        image28.astype(np.float32) / 255.0, matrix, (side, side), flags=cv2.INTER_LINEAR
    )
    ys, xs = np.nonzero(alpha > INK_ALPHA_FOR_BOX)
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def render_page(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    size: tuple[int, int] = DEFAULT_SIZE,
    indices: Sequence[int] | None = None,
) -> Page:
    """Write MNIST digits in a row on a fresh sheet of paper.

    ``indices`` picks the digits (left to right); by default 1-4 random ones.
    """
    width, height = size
    if indices is None:
        count = int(rng.integers(1, MAX_DIGITS + 1))
        indices = [int(i) for i in rng.integers(0, len(images), count)]
    count = len(indices)
    row_height = rng.uniform(45, 110) * min(1.0, height / DEFAULT_SIZE[1], width / DEFAULT_SIZE[0])
    usable = width - 2 * (MARGIN_PX + MAX_SHAKE_PX)
    while True:
        patches = [
            _digit_patch(
                images[i],
                row_height / MNIST_INK_SPAN * rng.uniform(0.9, 1.1),
                rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG),
            )
            for i in indices
        ]
        gaps = [int(rng.uniform(0.2, 0.6) * row_height) for _ in range(count - 1)]
        total = sum(p.shape[1] for p in patches) + sum(gaps)
        if total <= usable:
            break
        row_height *= 0.85
    tallest = max(p.shape[0] for p in patches)
    jitter = 0.15 * row_height
    low = MARGIN_PX + MAX_SHAKE_PX + tallest / 2 + jitter
    high = height - low
    centre_y = rng.uniform(low, high) if high > low else height / 2
    x = int(rng.uniform(MARGIN_PX + MAX_SHAKE_PX, width - MARGIN_PX - MAX_SHAKE_PX - total + 1))

    alpha = np.zeros((height, width), dtype=np.float32)
    placed: list[PlacedDigit] = []
    for slot, (index, patch) in enumerate(zip(indices, patches, strict=True)):
        ph, pw = patch.shape
        y = int(np.clip(centre_y - ph / 2 + rng.uniform(-jitter, jitter), 0, height - ph))
        alpha[y : y + ph, x : x + pw] = np.maximum(alpha[y : y + ph, x : x + pw], patch)
        placed.append(PlacedDigit(int(labels[index]), (x, y, pw, ph), index))
        x += pw + (gaps[slot] if slot < len(gaps) else 0)

    alpha = (alpha * rng.uniform(0.8, 1.0))[:, :, None]
    image = _paper(rng, size) * (1 - alpha) + _ink_color(rng) * alpha
    return Page(
        image, tuple(placed), blur_sigma=rng.uniform(0.5, 1.2), noise_sigma=rng.uniform(2, 6)
    )


def _moved_box(box: Box, matrix: np.ndarray, size: tuple[int, int]) -> Box:
    """The bounding box of ``box``'s corners moved by the 2x3 affine ``matrix``, inside the frame."""
    x, y, w, h = box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], np.float64)
    moved = corners @ matrix.T
    x0, y0 = np.floor(moved.min(axis=0)).astype(int)
    x1, y1 = np.ceil(moved.max(axis=0)).astype(int)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(size[0], int(x1)), min(size[1], int(y1))
    return x0, y0, x1 - x0, y1 - y0


def camera_view(page: Page, rng: np.random.Generator) -> tuple[np.ndarray, tuple[PlacedDigit, ...]]:
    """One camera frame of ``page``: a hand-held camera's small shift, turn and zoom (sub-pixel,
    so every frame samples the ink anew), lighting flicker, lens blur and sensor noise."""
    import cv2

    height, width = page.image.shape[:2]
    matrix = cv2.getRotationMatrix2D(
        (width / 2, height / 2),
        rng.uniform(-MAX_SHAKE_DEG, MAX_SHAKE_DEG),
        1 + rng.uniform(-MAX_SHAKE_ZOOM, MAX_SHAKE_ZOOM),
    )
    matrix[:, 2] += rng.uniform(-MAX_SHAKE_PX, MAX_SHAKE_PX, 2)
    view = cv2.warpAffine(
        page.image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    view *= 1 + rng.normal(0, 0.02)
    view = cv2.GaussianBlur(view, (0, 0), page.blur_sigma)
    view += rng.normal(0, page.noise_sigma, view.shape).astype(np.float32)
    digits = tuple(
        PlacedDigit(d.digit, _moved_box(d.box, matrix, (width, height)), d.mnist_index)
        for d in page.digits
    )
    return np.clip(view, 0, 255).astype(np.uint8), digits


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
    page = render_page(rng, images, labels, size)
    for index in range(frames):
        if index and index % hold == 0:
            page = render_page(rng, images, labels, size)
        view, digits = camera_view(page, rng)
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
    import cv2

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
    import json

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
    parser = argparse.ArgumentParser(
        prog="python -m camera_demo.synth",
        description="Generate a sample video of MNIST test digits written on paper, with ground truth.",
    )
    parser.add_argument("output", type=Path, help="video file to write (.mp4 or .avi)")
    parser.add_argument(
        "--frames", type=int_at_least(1), default=300, help="number of frames (default 300)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="MNIST directory (default: $DIGIT_KIT_MNIST_DIR, else Keras' cache)",
    )
    parser.add_argument(
        "--hold", type=int_at_least(1), default=12, help="frames per arrangement (default 12)"
    )
    parser.add_argument(
        "--fps", type=float, default=15.0, help="frame rate stored in the video (default 15)"
    )
    parser.add_argument(
        "--size",
        type=frame_size(64),
        default=DEFAULT_SIZE,
        help="frame size WxH (default 640x480)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    from train.data import load_mnist

    args = build_parser().parse_args(argv)
    try:
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
    except DigitKitError as exc:
        print(f"synth: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.output} ({args.frames} frames) and its ground truth {truth}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
