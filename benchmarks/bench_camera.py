"""End-to-end camera demo throughput on 640x480 frames with 1-4 handwritten digits, 1 thread.

    python -m benchmarks.bench_camera --model model_int8.tflite [--data DIR] [--frames 600]

Frames come from ``camera_demo.synth`` (MNIST test digits written on paper, each page held
for a few frames like a camera looking at it). They are encoded to an MP4 and decoded once to
time the read/decode stage on its own; the end-to-end loop then runs on frames already in
memory, as a camera driver hands them over, so the FPS is that of the demo's own work:
gray conversion, find_digits, one batched classify call, smoothing and the overlay.
Prints a markdown table of per-stage milliseconds (mean, median, 95th percentile), then the
headless reading FPS with ``--serve`` on, with nobody watching, with one viewer receiving
the MJPEG video, and with one viewer that never reads it (its socket fills at once; runs
alternate; the median of three is shown).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks import DEFAULT_MNIST
from benchmarks.machine import describe_machine
from runtime.cli_common import add_min_height_option

TARGET_FPS = 200.0
WARMUP_FRAMES = 20


def decode_times_ms(frames: list[np.ndarray], fps: float) -> list[float]:
    """Encode ``frames`` as MP4 (mp4v) and time reading each back through the demo's source."""
    import cv2

    from camera_demo.sources import open_source

    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "bench.mp4")
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        for frame in frames:
            writer.write(frame)
        writer.release()
        times = []
        with open_source(path) as source:
            while True:
                start = time.perf_counter()
                frame = source.read()
                if frame is None:
                    break
                times.append((time.perf_counter() - start) * 1e3)
    return times


VIEWERS = {
    "none": "nobody watching",
    "watching": "one viewer watching",
    "stalled": "one viewer that never reads",
}


def served_reading_fps(
    classifier,
    frames: list[np.ndarray],
    smooth: int,
    viewer: str,
    serve_fps: float,
    min_height: float,
) -> tuple[float, int]:
    """Headless reading FPS with the live view served; ``viewer`` (a key of ``VIEWERS``): one
    client takes the MJPEG video as fast as it comes, or asks for it and never reads. Returns
    the FPS and the video frames the server sent."""
    from camera_demo.live import LiveView
    from camera_demo.pipeline import FramePipeline
    from camera_demo.sources import Frame
    from camera_demo.web import LiveServer, parse_serve_address

    live = LiveView()
    pipeline = FramePipeline(classifier, smoothing=smooth, min_height=min_height)
    for index, frame in enumerate(frames[:WARMUP_FRAMES]):
        live.observe(Frame(index, frame), pipeline.process(frame, index), {}, 0.0)
    done = threading.Event()
    with LiveServer(parse_serve_address("0"), live, {}, "bench", fps=serve_fps) as server:
        watcher = None
        if viewer != "none":
            sock = socket.socket()
            if viewer == "stalled":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(5)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

            def watch() -> None:
                with sock:
                    if viewer == "stalled":
                        done.wait()
                        return
                    while not done.is_set() and sock.recv(65536):
                        pass

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            time.sleep(0.3)  # the stream is flowing before the clock starts
        sent_before = server.video_frames_sent
        started = time.perf_counter()
        for index, frame in enumerate(frames[WARMUP_FRAMES:]):
            reading = pipeline.process(frame, index)
            live.observe(Frame(index, frame), reading, reading.timings_ms, 0.0)
        wall = time.perf_counter() - started
        sent = server.video_frames_sent - sent_before
        done.set()
    if watcher is not None:
        watcher.join(2)
    return (len(frames) - WARMUP_FRAMES) / wall, sent


def run(args: argparse.Namespace) -> int:
    import cv2

    from camera_demo.overlay import draw_overlay
    from camera_demo.pipeline import FramePipeline
    from camera_demo.synth import render_frames
    from runtime.classifier import DigitClassifier
    from runtime.images import as_bgr_u8
    from train.data import load_mnist

    cv2.setNumThreads(args.threads)
    mnist = load_mnist(args.data, download=False)
    rendered = list(
        render_frames(mnist.x_test, mnist.y_test, args.frames + WARMUP_FRAMES, args.seed, args.hold)
    )
    frames = [view for view, _ in rendered]
    digits_per_frame = np.mean([len(truth.digits) for _, truth in rendered[WARMUP_FRAMES:]])

    classifier = DigitClassifier(args.model, backend=args.backend, num_threads=args.threads)
    pipeline = FramePipeline(classifier, smoothing=args.smooth, min_height=args.min_height)
    for index, frame in enumerate(frames[:WARMUP_FRAMES]):
        pipeline.process(frame, index)

    stages: dict[str, list[float]] = {}
    clock = time.perf_counter
    started = clock()
    for index, frame in enumerate(frames[WARMUP_FRAMES:]):
        reading = pipeline.process(frame, index)
        drawn = clock()
        draw_overlay(as_bgr_u8(frame), reading, fps=0.0)
        overlay_ms = (clock() - drawn) * 1e3
        for stage, ms in {**reading.timings_ms, "overlay": overlay_ms}.items():
            stages.setdefault(stage, []).append(ms)
    wall = clock() - started
    decode = decode_times_ms(frames[WARMUP_FRAMES:], fps=15.0)

    count = len(frames) - WARMUP_FRAMES
    processing = np.sum([stages[s] for s in stages], axis=0)
    headless = processing - np.asarray(stages["overlay"])
    end_to_end_fps = count / wall

    print(f"machine: {describe_machine()}")
    print(
        f"model: {args.model} (backend {classifier.backend_name}, {args.threads} thread(s)); "
        f"{count} frames 640x480, {digits_per_frame:.2f} digits per frame, smoothing {args.smooth}, "
        f"min_height {args.min_height:g}"
    )
    print()
    print("| stage | mean ms | median ms | p95 ms | share of frame |")
    print("|---|---:|---:|---:|---:|")
    for stage, values in stages.items():
        v = np.asarray(values)
        share = v.sum() / processing.sum()
        print(
            f"| {stage} | {v.mean():.3f} | {np.median(v):.3f} | {np.percentile(v, 95):.3f} "
            f"| {share:.0%} |"
        )
    print(
        f"| **total (window mode)** | {processing.mean():.3f} | {np.median(processing):.3f} "
        f"| {np.percentile(processing, 95):.3f} | 100% |"
    )
    d = np.asarray(decode)
    print(
        f"| read/decode MP4 (separate) | {d.mean():.3f} | {np.median(d):.3f} "
        f"| {np.percentile(d, 95):.3f} | - |"
    )
    print()
    print("| measure | FPS |")
    print("|---|---:|")
    print(f"| end to end, window mode (with overlay), wall clock | {end_to_end_fps:.0f} |")
    print(f"| window mode, from the median frame time | {1e3 / np.median(processing):.0f} |")
    print(f"| headless (no overlay), from stage times | {1e3 / headless.mean():.0f} |")
    print(f"| window mode including MP4 decode | {1e3 / (processing.mean() + d.mean()):.0f} |")
    served: dict[str, list[tuple[float, int]]] = {viewer: [] for viewer in VIEWERS}
    for _ in range(3):
        for viewer in VIEWERS:
            served[viewer].append(
                served_reading_fps(
                    classifier, frames, args.smooth, viewer, args.serve_fps, args.min_height
                )
            )
    for viewer, label in VIEWERS.items():
        fps_runs = sorted(served[viewer])
        fps, sent = fps_runs[len(fps_runs) // 2]
        shown = f" ({sent / (count / fps):.1f} video FPS sent)" if viewer != "none" else ""
        print(
            f"| headless with --serve (--serve-fps {args.serve_fps:g}), {label}{shown} | {fps:.0f} |"
        )
    verdict = "met" if end_to_end_fps >= TARGET_FPS else "NOT met"
    print(f"\ntarget >= {TARGET_FPS:.0f} FPS end to end: {verdict}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the .tflite model (int8)")
    parser.add_argument("--data", type=Path, default=None, help="MNIST directory")
    parser.add_argument("--frames", type=int, default=600, help="frames to time (default 600)")
    parser.add_argument("--hold", type=int, default=12, help="frames per page (default 12)")
    parser.add_argument("--smooth", type=int, default=5, help="smoothing window (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="threads (default 1)")
    parser.add_argument("--backend", default="auto", help="inference backend (default auto)")
    parser.add_argument(
        "--serve-fps",
        type=float,
        default=10.0,
        help="video FPS cap for the viewer row (default 10)",
    )
    parser.add_argument("--seed", type=int, default=0)
    add_min_height_option(parser, "frame")
    args = parser.parse_args(argv)
    if args.data is None and not os.environ.get("DIGIT_KIT_MNIST_DIR") and DEFAULT_MNIST.is_dir():
        args.data = DEFAULT_MNIST
    from runtime.errors import DigitKitError

    try:
        return run(args)
    except DigitKitError as exc:
        print(f"bench_camera: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
