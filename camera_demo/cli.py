"""``digit-camera`` / ``python -m camera_demo``: read handwritten digits live from a camera or video.

    python -m camera_demo --model model_int8.tflite --source 0
    python -m camera_demo --model model_int8.tflite --source sample.mp4 --headless --jsonl out.jsonl
    python -m camera_demo --model model_int8.tflite --source picamera --headless \
        --serve 0.0.0.0:8080 --mqtt mqtt://broker/home/meter

Window keys: q or Esc quit, s saves a snapshot, space pauses. Without a display (or with an
OpenCV build that has no GUI) the demo runs headless and prints one JSON object per frame.
``--serve`` adds the live view in a browser and an HTTP API (``camera_demo.web``), ``--mqtt``
publishes changes of the numbers read (``camera_demo.mqtt``). SIGTERM, Ctrl-C and q stop it within
a second or two whatever it is doing (``camera_demo.stopping``, ``camera_demo.reader``).

Exit codes (``runtime.cli_common``): 0 the source ended, q, --max-frames or SIGTERM; 2 bad
input (model, source, --serve or --mqtt value, a camera that stopped delivering frames);
130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from camera_demo.output import (
    JsonlWriter,
    OutputError,
    RunSummary,
    frame_record,
    save_snapshot,
)
from camera_demo.overlay import draw_overlay, draw_status
from camera_demo.pipeline import FramePipeline, FrameReading, parse_roi
from camera_demo.reader import ThreadedReader
from camera_demo.sources import (
    FOLDER_SUFFIXES,
    Frame,
    RetryPolicy,
    SourceError,
    open_source,
    redact_url,
    without_file_scheme,
)
from camera_demo.stopping import (
    StopRequest,
    StopRequested,
    call_unless_stopped,
    end_process,
    stop_on_signals,
)
from camera_demo.window import (
    KEY_ESC,
    KEY_SPACE,
    DisplayUnavailableError,
    Window,
    display_missing_reason,
)
from runtime.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT_CLOSED,
    add_min_height_option,
    add_threshold_option,
    console_script,
    float_in_range,
    frame_size,
    int_at_least,
    make_parser,
    print_error,
    silence_stdout,
    thread_count,
)
from runtime.errors import DigitKitError, ImageError
from runtime.images import as_bgr_u8, quiet_opencv_logs, require_opencv
from runtime.ink import POLARITIES

if TYPE_CHECKING:
    from camera_demo.web import LiveServer

PROG = "digit-camera"
log = logging.getLogger("camera_demo")


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


def _joined_roi_values(argv: list[str]) -> list[str]:
    """``argv`` with each ``--roi`` joined to a value that starts with a minus ("-5,0,9,9"):
    argparse takes such a value for an option and says only "expected one argument", so the
    ROI check (``parse_roi``) could not say what is wrong with it."""
    joined: list[str] = []
    values = iter(argv)
    for item in values:
        following = next(values, None) if item == "--roi" else None
        if following is not None and following.startswith("-") and following[1:2].isdigit():
            joined.append(f"--roi={following}")
            continue
        joined.append(item)
        if following is not None:
            joined.append(following)
    return joined


def _roi(text: str) -> tuple[int, int, int, int]:
    try:
        return parse_roi(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _arg_type(parse):
    """An argparse type from a parser that raises ``ValueError`` with the reason."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _token(text: str) -> str:
    if not text.strip() or any(ord(c) < 32 for c in text):
        raise ValueError("the token must be non-empty printable text")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    from camera_demo.mqtt import DISCOVERY_PREFIX, PASSWORD_ENV, discovery_prefix, parse_mqtt_url
    from camera_demo.web import TOKEN_ENV, parse_serve_address
    from runtime.backends import BACKEND_NAMES

    parser = make_parser(
        PROG,
        "Read handwritten digits live from a camera, video, stream or image folder.",
        epilog="Window keys: q/Esc quit, s snapshot, space pause. Exit codes: 0 done or "
        "stopped (q, SIGTERM), 2 bad input or a camera that stopped delivering, 130 Ctrl-C.",
    )
    parser.add_argument(
        "--model", required=True, type=Path, metavar="FILE", help="the .tflite model file"
    )
    parser.add_argument(
        "--source",
        default="0",
        metavar="SOURCE",
        help="camera index (0), /dev/videoN, rtsp:// or http:// URL, video file, image folder, "
        "or 'picamera'",
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
        type=thread_count,
        default=1,
        metavar="N",
        help="threads for inference and OpenCV",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", *BACKEND_NAMES),
        help="inference backend",
    )
    parser.add_argument(
        "--roi",
        type=_roi,
        action="append",
        metavar="X,Y,W,H",
        help="read one digit in this fixed box instead of searching the frame (repeatable)",
    )
    parser.add_argument(
        "--smooth",
        type=int_at_least(1),
        metavar="N",
        default=5,
        help="average each digit over this many frames (1 = off; a folder's pictures are never "
        "averaged together)",
    )
    parser.add_argument(
        "--polarity",
        choices=POLARITIES,
        default=None,
        help="dark_on_light (pen on paper), light_on_dark (chalk on a board) or auto (guess); "
        "default: dark_on_light for frames, auto for each --roi crop",
    )
    add_threshold_option(parser, metavar="P")
    add_min_height_option(parser, "frame", " (not with --roi: each ROI is one digit)")
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
        help="camera capture size (default: 640x480)",
    )
    parser.add_argument(
        "--retries",
        type=int_at_least(0),
        metavar="N",
        default=5,
        help="camera/stream read retries (with back-off, reopening it) before giving up",
    )
    parser.add_argument(
        "--max-fps",
        type=float_in_range(0.01, 1000.0),
        metavar="FPS",
        help="read at most this many frames per second (saves CPU on a device; a video file "
        "then plays at about this speed)",
    )
    web = parser.add_argument_group("live view in a browser and HTTP API")
    web.add_argument(
        "--serve",
        type=_arg_type(parse_serve_address),
        metavar="[HOST:]PORT",
        help="serve the live view and the API on this address (host 127.0.0.1 unless given; "
        "0.0.0.0 for every network interface)",
    )
    web.add_argument(
        "--serve-token",
        type=_arg_type(_token),
        metavar="TOKEN",
        help=f"require this token on every request (without it: ${TOKEN_ENV}, if set)",
    )
    web.add_argument(
        "--serve-without-token",
        action="store_true",
        help="serve a network address without a token: anyone who can reach the port sees "
        "the camera (refused otherwise)",
    )
    web.add_argument(
        "--serve-fps",
        type=float_in_range(0.5, 60.0),
        metavar="FPS",
        default=10.0,
        help="most video frames and events per second sent to viewers",
    )
    broker = parser.add_argument_group("MQTT (Home Assistant, Node-RED)")
    broker.add_argument(
        "--mqtt",
        type=_arg_type(parse_mqtt_url),
        metavar="URL",
        help="publish each change of the numbers read to mqtt://[user[:password]@]host[:port]/topic "
        f"(mqtts:// for TLS; the password may come from ${PASSWORD_ENV})",
    )
    broker.add_argument(
        "--mqtt-ca",
        type=Path,
        metavar="FILE",
        help="CA certificate(s) for mqtts:// (without it: the system's CA store)",
    )
    broker.add_argument(
        "--mqtt-discovery-prefix",
        type=discovery_prefix,
        default=DISCOVERY_PREFIX,
        metavar="PREFIX",
        help="Home Assistant discovery prefix ('' to publish no discovery config)",
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


class Output(Protocol):
    """Something fed every processed frame by the loop; ``observe`` must return at once."""

    def observe(
        self, frame: Frame, reading: FrameReading, timings_ms: dict[str, float], fps: float
    ) -> None: ...


@dataclass
class _Session:
    """The open resources of one run."""

    reader: ThreadedReader
    pipeline: FramePipeline
    window: Window | None
    writer: JsonlWriter | None
    snapshot_dir: Path
    max_frames: int | None
    changes_only: bool = False
    outputs: list[Output] = field(default_factory=list)
    min_interval: float = 0.0  # seconds between frame starts (--max-fps)


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

    ``started`` is when waiting for the frame began, so the ``total`` time includes the wait.
    """
    clock = time.perf_counter
    wait_ms = (clock() - started) * 1e3
    try:
        reading = session.pipeline.process(frame.image, frame.index)
    except ImageError as exc:
        name = f" ({frame.name})" if frame.name else ""
        log.warning("skipping frame %d%s: %s", frame.index, name, exc)
        return None
    timings = {"wait": wait_ms, **reading.timings_ms}
    view = None
    if session.window is not None:
        drawn = clock()
        view = draw_overlay(as_bgr_u8(frame.image), reading, fps)
        timings["overlay"] = (clock() - drawn) * 1e3
    timings["total"] = (clock() - started) * 1e3
    return reading, timings, view


def _loop(session: _Session, summary: RunSummary, stop: StopRequest) -> str:
    """Read frames until the source ends, a key quits, ``max_frames`` or a stop; return why."""
    try:
        return _read_frames(session, summary, stop)
    except StopRequested:
        return stop.reason or "stopped"


def _read_frames(session: _Session, summary: RunSummary, stop: StopRequest) -> str:
    fps = FpsMeter()
    reader, window = session.reader, session.window
    paused_view: np.ndarray | None = None
    last: tuple[Frame, np.ndarray | None] | None = None
    written_shown: str | None = None
    while session.max_frames is None or summary.frames < session.max_frames:
        stop.check()
        if window is not None and paused_view is not None:
            key = window.show(paused_view, wait_ms=50)
        else:
            started = time.perf_counter()
            frame = reader.next()
            if frame is None:
                return f"end of {reader.source.description}"
            # A frame in hand is finished (a few ms); the stop is honoured at the top of the loop.
            result = _process(session, frame, started, fps.rate)
            if result is None:
                continue
            reading, timings, view = result
            fps.tick()
            summary.add(reading, timings)
            if session.writer is not None and not (
                session.changes_only and reading.shown == written_shown
            ):
                session.writer.write(frame_record(reading, timings, frame.name))
                written_shown = reading.shown
            for output in session.outputs:
                output.observe(frame, reading, timings, fps.rate)
            last = (frame, view)
            if session.min_interval:
                remaining = started + session.min_interval - time.perf_counter()
                if remaining > 0 and stop.wait(remaining):
                    continue  # stop.check() at the top ends the loop
            if window is None:
                continue
            key = window.show(view)
        if key in (ord("q"), KEY_ESC):
            return "quit"
        if key == ord("s") and last is not None:
            try:
                path = save_snapshot(session.snapshot_dir, last[0].index, last[0].image, last[1])
            except OSError as exc:  # a full disk: the reading goes on without the snapshot
                log.warning("cannot save the snapshot: %s", exc.strerror or exc)
            else:
                log.info("snapshot saved to %s", path)
        elif key == KEY_SPACE and last is not None and last[1] is not None:
            paused_view = draw_status(last[1].copy(), "PAUSED") if paused_view is None else None
    return f"stopped after --max-frames {session.max_frames}"


def _start_outputs(
    args: argparse.Namespace, stack: contextlib.ExitStack, classifier
) -> tuple[list[Output], LiveServer | None]:
    """Start the MQTT publisher and the web view asked for; return the outputs and the server."""
    outputs: list[Output] = []
    server = None
    publisher = None
    if args.mqtt is not None:
        from camera_demo.mqtt import MqttPublisher

        publisher = MqttPublisher(args.mqtt, args.mqtt_ca, args.mqtt_discovery_prefix)
        stack.enter_context(publisher)
        outputs.append(publisher)
    if args.serve is not None:
        from camera_demo.live import LiveView
        from camera_demo.web import STALE_AFTER_S, TOKEN_ENV, LiveServer, describe_model

        live = LiveView()
        token = args.serve_token or os.environ.get(TOKEN_ENV) or None
        stale = max(STALE_AFTER_S, 3.0 / args.max_fps) if args.max_fps else STALE_AFTER_S
        server = LiveServer(
            args.serve,
            live,
            describe_model(classifier, args.smooth),
            source=f"{redact_url(args.source)} (opening)",
            token=token,
            fps=args.serve_fps,
            stale_after_s=stale,
            status=publisher.status if publisher is not None else None,
            without_token=args.serve_without_token,
        )
        stack.enter_context(server)
        outputs.append(live)
    return outputs, server


def run(args: argparse.Namespace, stop: StopRequest | None = None) -> int:
    """Run the demo with parsed arguments until the source ends or ``stop``; returns the exit code."""
    from runtime.classifier import DigitClassifier

    cv2 = require_opencv()
    stop = stop or StopRequest()
    cv2.setNumThreads(args.threads)  # the thread budget covers OpenCV's stages too
    quiet_opencv_logs()
    classifier = DigitClassifier(
        args.model, backend=args.backend, num_threads=args.threads, threshold=args.threshold
    )
    pipeline = FramePipeline(
        classifier, args.roi or (), args.smooth, args.polarity, args.min_height
    )
    summary = RunSummary()
    code = EXIT_OK
    with contextlib.ExitStack() as stack:
        outputs, server = _start_outputs(args, stack, classifier)
        try:
            # In a thread: opening a stream whose server does not answer blocks in C.
            source = call_unless_stopped(
                lambda: open_source(args.source, args.camera_size, RetryPolicy(args.retries)),
                stop,
                "source-open",
            )
        except StopRequested:
            stack.close()
            log.info("%s", summary.report(stop.reason))
            return stop.exit_code
        if server is not None:
            server.source = source.description
        if source.frames_are_scenes:
            pipeline.read_each_frame_alone()  # --smooth averages a scene over time
        min_interval = 1.0 / args.max_fps if args.max_fps else 0.0
        reader = ThreadedReader(source, stop, min_interval)
        stack.callback(reader.close)
        window = _open_window(args.headless)
        if window is not None:
            stack.enter_context(window)
        writer = (
            stack.enter_context(JsonlWriter(args.jsonl)) if window is None or args.jsonl else None
        )
        session = _Session(
            reader,
            pipeline,
            window,
            writer,
            args.snapshot_dir,
            args.max_frames,
            args.changes_only,
            outputs,
            min_interval,
        )
        try:
            ending = _loop(session, summary, stop)
        except KeyboardInterrupt:  # a second Ctrl-C, or one raised by a source
            ending, code = "interrupted", EXIT_INTERRUPTED
        except BrokenPipeError:  # the JSONL's reader on stdout went away (| head)
            silence_stdout()
            ending, code = "stopped: the output's reader went away", EXIT_OUTPUT_CLOSED
        except OutputError as exc:  # a full disk: say so, and still give the summary
            if writer is not None and writer.path is None:
                silence_stdout()
            print_error(PROG, exc)
            ending, code = f"stopped: {exc}", EXIT_BAD_INPUT
        except SourceError as exc:  # a camera or stream lost for good: the summary still
            print_error(PROG, exc)
            ending, code = "stopped: the source stopped delivering frames", EXIT_BAD_INPUT
        if stop.is_set():
            code = stop.exit_code
        skipped = getattr(source, "skipped", [])
        if skipped:
            ending += f" ({len(skipped)} unreadable file{'s' if len(skipped) > 1 else ''} skipped)"
    log.info("%s", summary.report(ending))
    if skipped and summary.frames == 0 and code == EXIT_OK:
        print_error(PROG, f"no image in {source.description} could be read")
        return EXIT_BAD_INPUT
    return code


def _refuse_writing_over_an_input(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> None:
    """``--jsonl`` naming the model, the source file or an image of the source folder would
    append JSON to it (a new image file there, JSON the next run would read as an image)."""
    if args.jsonl is None:
        return
    source = Path(without_file_scheme(str(args.source))).expanduser()
    if args.jsonl.is_file():
        for what, path in (
            ("the model", Path(str(args.model)).expanduser()),
            ("the source", source),
        ):
            if path.is_file() and os.path.samefile(path, args.jsonl):
                parser.error(f"--jsonl {args.jsonl} is {what}: give another file for the readings")
    if (
        source.is_dir()
        and args.jsonl.parent.is_dir()
        and os.path.samefile(source, args.jsonl.parent)
        and args.jsonl.suffix.lower() in FOLDER_SUFFIXES
    ):
        parser.error(
            f"--jsonl {args.jsonl} is an image of the source folder: give another file for the "
            "readings"
        )


@console_script
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``digit-camera``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(_joined_roi_values(sys.argv[1:] if argv is None else argv))
    _refuse_writing_over_an_input(parser, args)
    if args.mqtt_ca is not None and (args.mqtt is None or not args.mqtt.tls):
        parser.error("--mqtt-ca is for a broker reached over TLS: give an mqtts:// --mqtt URL")
    _setup_logging()
    with stop_on_signals(StopRequest()) as stop:
        try:
            return run(args, stop)
        except KeyboardInterrupt:
            log.warning("interrupted")
            return EXIT_INTERRUPTED
        except DigitKitError as exc:
            print_error(PROG, exc)
            return EXIT_BAD_INPUT


@console_script
def entry(argv: list[str] | None = None) -> int:
    """``digit-camera`` and ``python -m camera_demo``: ``main``, then the process ends
    (``end_process``: at once if threads are left behind). For the process's entry only;
    call ``main`` from other code."""
    return end_process(main(argv))
