"""``digit-camera`` / ``python -m camera_demo``: read handwritten digits live from a camera or video.

    python -m camera_demo --model model_int8.tflite --source 0
    python -m camera_demo --model model_int8.tflite --source sample.mp4 --headless --jsonl out.jsonl

Window keys: q or Esc quit, s saves a snapshot, space pauses. Without a display (or with an
OpenCV build that has no GUI) the demo runs headless and prints one JSON object per frame.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camera_demo.output import JsonlWriter, RunSummary, frame_record, save_snapshot
from camera_demo.overlay import draw_overlay, draw_status
from camera_demo.pipeline import FramePipeline, FrameReading, parse_roi
from camera_demo.sources import Frame, FrameSource, RetryPolicy, open_source
from camera_demo.window import (
    KEY_ESC,
    KEY_SPACE,
    DisplayUnavailableError,
    Window,
    display_missing_reason,
)
from runtime.cli_common import float_in_range, frame_size, int_at_least
from runtime.errors import DigitKitError, ImageError
from runtime.images import as_bgr_u8, quiet_opencv_logs

PROG = "digit-camera"
EXIT_ERROR = 2  # runtime.cli_common.EXIT_BAD_INPUT
EXIT_INTERRUPTED = 130
log = logging.getLogger("camera_demo")


class StopRequested(Exception):
    """SIGTERM arrived (``systemctl stop``): finish cleanly like a quit key."""


def _raise_stop(signum: int, frame: object) -> None:
    raise StopRequested


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (so redirections and test capture work)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


def _setup_logging() -> None:
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)


def _roi(text: str) -> tuple[int, int, int, int]:
    try:
        return parse_roi(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    from runtime.backends import BACKEND_NAMES

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read handwritten digits live from a camera, video, stream or image folder.",
        epilog="Window keys: q/Esc quit, s snapshot, space pause.",
    )
    parser.add_argument(
        "--model", required=True, type=Path, metavar="FILE", help="the .tflite model file"
    )
    parser.add_argument(
        "--source",
        default="0",
        metavar="SOURCE",
        help="camera index (0), /dev/videoN, rtsp:// or http:// URL, video file, image folder, "
        "or 'picamera' (default 0)",
    )
    parser.add_argument(
        "--headless", action="store_true", help="no window; JSON lines on stdout or --jsonl"
    )
    parser.add_argument(
        "--jsonl", type=Path, metavar="FILE", help="append one JSON object per frame to this file"
    )
    parser.add_argument(
        "--changes-only",
        action="store_true",
        help="write a JSON record only when the number read changes (for long unattended runs)",
    )
    parser.add_argument(
        "--max-frames", type=int_at_least(1), metavar="N", help="stop after this many frames"
    )
    parser.add_argument(
        "--threads",
        type=int_at_least(1),
        default=1,
        metavar="N",
        help="threads for inference and OpenCV (default 1)",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", *BACKEND_NAMES),
        help="inference backend (default auto)",
    )
    parser.add_argument(
        "--roi",
        type=_roi,
        action="append",
        default=[],
        metavar="X,Y,W,H",
        help="read one digit in this fixed box instead of searching the frame (repeatable)",
    )
    parser.add_argument(
        "--smooth",
        type=int_at_least(1),
        metavar="N",
        default=5,
        help="average each digit over this many frames (1 = off; default 5)",
    )
    parser.add_argument(
        "--threshold",
        type=float_in_range(0.0, 1.0),
        metavar="P",
        default=None,
        help="confidence from which a digit is accepted (default: the model's own threshold)",
    )
    parser.add_argument(
        "--snapshot-dir",
        type=Path,
        metavar="DIR",
        default=Path("snapshots"),
        help="where s saves frames",
    )
    parser.add_argument(
        "--camera-size",
        type=frame_size(),
        metavar="WxH",
        default=(640, 480),
        help="camera capture size (default 640x480)",
    )
    parser.add_argument(
        "--retries",
        type=int_at_least(0),
        metavar="N",
        default=5,
        help="camera read retries before giving up (default 5)",
    )
    return parser


class FpsMeter:
    """Frames per second, smoothed over recent frames (for the overlay)."""

    def __init__(self, smoothing: float = 0.9) -> None:
        self.smoothing = smoothing
        self.rate = 0.0
        self._last: float | None = None

    def tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None and now > self._last:
            instant = 1.0 / (now - self._last)
            self.rate = (
                instant
                if self.rate == 0
                else self.smoothing * self.rate + (1 - self.smoothing) * instant
            )
        self._last = now


@dataclass
class _Session:
    """The open resources of one run."""

    source: FrameSource
    pipeline: FramePipeline
    window: Window | None
    writer: JsonlWriter | None
    snapshot_dir: Path
    max_frames: int | None
    changes_only: bool = False


def _open_window(headless: bool) -> Window | None:
    if headless:
        return None
    reason = display_missing_reason()
    if reason:
        log.warning(
            "no display available (%s); running headless, one JSON object per frame", reason
        )
        return None
    try:
        return Window()
    except DisplayUnavailableError as exc:
        log.warning("%s; running headless, one JSON object per frame", exc)
        return None


def _process(
    session: _Session, frame: Frame, started: float, fps: float
) -> tuple[FrameReading, dict[str, float], np.ndarray | None] | None:
    """Read one frame's digits and, in window mode, draw its view; ``None`` for an unusable frame.

    ``started`` is when reading the frame began, so the ``total`` time includes the read.
    """
    clock = time.perf_counter
    read_ms = (clock() - started) * 1e3
    try:
        reading = session.pipeline.process(frame.image, frame.index)
    except ImageError as exc:
        name = f" ({frame.name})" if frame.name else ""
        log.warning("skipping frame %d%s: %s", frame.index, name, exc)
        return None
    timings = {"read": read_ms, **reading.timings_ms}
    view = None
    if session.window is not None:
        drawn = clock()
        view = draw_overlay(as_bgr_u8(frame.image), reading, fps)
        timings["overlay"] = (clock() - drawn) * 1e3
    timings["total"] = (clock() - started) * 1e3
    return reading, timings, view


def _loop(session: _Session, summary: RunSummary) -> str:
    """Read frames until the source ends, a key quits or ``max_frames``; return why it stopped."""
    fps = FpsMeter()
    source, window = session.source, session.window
    paused_view: np.ndarray | None = None
    last: tuple[Frame, np.ndarray | None] | None = None
    written_number: str | None = None
    while session.max_frames is None or summary.frames < session.max_frames:
        if window is not None and paused_view is not None:
            key = window.show(paused_view, wait_ms=50)
        else:
            started = time.perf_counter()
            frame = source.read()
            if frame is None:
                return f"end of {source.description}"
            result = _process(session, frame, started, fps.rate)
            if result is None:
                continue
            reading, timings, view = result
            fps.tick()
            summary.add(reading, timings)
            if session.writer is not None and not (
                session.changes_only and reading.number == written_number
            ):
                session.writer.write(frame_record(reading, timings, frame.name))
                written_number = reading.number
            last = (frame, view)
            if window is None:
                continue
            key = window.show(view)
        if key in (ord("q"), KEY_ESC):
            return "quit"
        if key == ord("s") and last is not None:
            path = save_snapshot(session.snapshot_dir, last[0].index, last[0].image, last[1])
            log.info("snapshot saved to %s", path)
        elif key == KEY_SPACE and last is not None and last[1] is not None:
            paused_view = draw_status(last[1].copy(), "PAUSED") if paused_view is None else None
    return f"stopped after --max-frames {session.max_frames}"


def run(args: argparse.Namespace) -> int:
    """Run the demo with parsed arguments; returns the exit code."""
    import cv2

    from runtime.classifier import DigitClassifier

    cv2.setNumThreads(args.threads)  # the thread budget covers OpenCV's stages too
    quiet_opencv_logs()
    classifier = DigitClassifier(
        args.model, backend=args.backend, num_threads=args.threads, threshold=args.threshold
    )
    pipeline = FramePipeline(classifier, args.roi, args.smooth)
    summary = RunSummary()
    code = 0
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(
            open_source(args.source, args.camera_size, RetryPolicy(attempts=args.retries))
        )
        window = _open_window(args.headless)
        if window is not None:
            stack.enter_context(window)
        writer = (
            stack.enter_context(JsonlWriter(args.jsonl)) if window is None or args.jsonl else None
        )
        session = _Session(
            source, pipeline, window, writer, args.snapshot_dir, args.max_frames, args.changes_only
        )
        try:
            ending = _loop(session, summary)
        except KeyboardInterrupt:
            ending, code = "interrupted", EXIT_INTERRUPTED
        except StopRequested:
            ending = "stopped by SIGTERM"
        skipped = getattr(source, "skipped", [])
        if skipped:
            ending += f" ({len(skipped)} unreadable file{'s' if len(skipped) > 1 else ''} skipped)"
    log.info("%s", summary.report(ending))
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``digit-camera``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    _setup_logging()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_stop) if in_main_thread else None
    try:
        return run(args)
    except KeyboardInterrupt:
        log.warning("interrupted")
        return EXIT_INTERRUPTED
    except StopRequested:
        log.warning("stopped by SIGTERM")
        return 0
    except DigitKitError as exc:
        log.error("error: %s", exc)
        return EXIT_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
