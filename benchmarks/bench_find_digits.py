"""Speed of ``runtime.segment.find_digits`` and ``runtime.preprocess.preprocess``, 1 thread.

    python -m benchmarks.bench_find_digits [--data DIR] [--repeats 200]

Frames are drawn by ``camera_demo/paper.py`` from MNIST test digits: 640x480 BGR camera-like
frames (blank paper, a textured table, random noise, ruled paper, pages with 2 and 6
digits, ruled lines, specks and uneven light) and a 1280x720 page. Each is searched
``--repeats`` times after a warm-up; the table gives wall-clock milliseconds per call
(median and 90th percentile) and process CPU milliseconds per call. ``preprocess`` is timed
on single-digit photos. Prints a markdown table; numbers depend on the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from benchmarks.bench_reading import add_data
from benchmarks.machine import describe_machine

WARMUP = 10


def time_calls(call: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """(median wall ms, 90th percentile wall ms, mean CPU ms) of ``repeats`` calls."""
    for _ in range(WARMUP):
        call()
    walls = []
    cpu_start = time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        walls.append((time.perf_counter() - start) * 1e3)
    cpu = (time.process_time() - cpu_start) * 1e3 / repeats
    return statistics.median(walls), float(np.percentile(walls, 90)), cpu


def frames(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Named test frames (BGR uint8) for ``find_digits``."""
    from camera_demo import paper as drawing

    rng = np.random.default_rng(0)

    def page(count: int, size: tuple[int, int], field: int, ruled: bool) -> np.ndarray:
        picks = rng.choice(len(images), count, replace=False)
        drawn = drawing.digit_page(
            list(images[picks]),
            list(labels[picks]),
            size=size,
            field=field,
            spacing=field // 5,
            channels=3,
        )
        if ruled:
            drawing.draw_ruled_line(
                drawn.canvas, drawn.boxes[0][1] + 0.8 * drawn.boxes[0][3], slope=0.01
            )
            drawing.add_specks(drawn.canvas, 20, rng)
        drawing.add_lighting(drawn.canvas, 0.4, rng)
        drawing.add_noise(drawn.canvas, 2.0, rng)
        return drawing.finish(drawn.canvas)

    def bgr(gray: np.ndarray) -> np.ndarray:
        return np.repeat(drawing.finish(gray)[:, :, None], 3, axis=2)

    return {
        "640x480 blank paper": bgr(drawing.blank_frame(rng=rng)),
        "640x480 textured table": bgr(drawing.texture_frame(rng=rng)),
        "640x480 random noise": bgr(drawing.noise_frame(rng=rng)),
        "640x480 ruled paper, no digit": bgr(drawing.ruled_frame()),
        "640x480 2 digits": page(2, (480, 640), 90, ruled=False),
        "640x480 6 digits, ruled line, specks": page(6, (480, 640), 70, ruled=True),
        "1280x720 4 digits, ruled line, specks": page(4, (720, 1280), 150, ruled=True),
    }


def run(args: argparse.Namespace) -> int:
    import cv2

    from camera_demo import paper as drawing
    from runtime.preprocess import preprocess
    from runtime.segment import find_digits
    from train.data import load_mnist

    cv2.setNumThreads(1)
    mnist = load_mnist(args.data)
    rows = []
    for name, frame in frames(mnist.x_test, mnist.y_test).items():
        found = len(find_digits(frame))
        median, p90, cpu = time_calls(lambda frame=frame: find_digits(frame), args.repeats)
        rows.append((f"find_digits, {name}", found, median, p90, cpu))
    for size, field in (((96, 96), 56), ((480, 640), 300)):
        photo = drawing.finish(drawing.digit_on_paper(mnist.x_test[0], size, field, channels=3))
        median, p90, cpu = time_calls(lambda photo=photo: preprocess(photo), args.repeats)
        rows.append((f"preprocess, {size[1]}x{size[0]} photo of one digit", 1, median, p90, cpu))

    print(f"Machine: {describe_machine()}; OpenCV threads: 1; {args.repeats} calls each\n")
    print("| call | digits found | median ms | p90 ms | CPU ms |")
    print("|---|---:|---:|---:|---:|")
    for name, found, median, p90, cpu in rows:
        print(f"| {name} | {found} | {median:.2f} | {p90:.2f} | {cpu:.2f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data(parser)
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per row")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
