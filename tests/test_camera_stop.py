"""Stopping the demo: SIGTERM and Ctrl-C end it within 2 s whatever it is doing (reading a live
network stream, blocked on a stalled one, backing off to reconnect, serving viewers,
publishing to a broker that is away), with the summary written; finite sources still end
normally; bad input exits 2.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
from camera_servers import DemoProcess, MjpegCamera, digit_frame, free_port, random_model

from camera_demo import cli
from camera_demo.reader import ThreadedReader
from camera_demo.sources import CaptureSource, FrameSource, RetryPolicy
from camera_demo.stopping import StopRequest, StopRequested, stop_on_signals

REPO = Path(__file__).resolve().parents[1]

STOP_WITHIN_S = 2.0


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return random_model(tmp_path_factory.mktemp("model") / "random.tflite")


@pytest.fixture
def camera():
    frames = [digit_frame("42"), digit_frame("7")]
    with MjpegCamera(frames, fps=25) as server:
        yield server


def demo(model: Path, source: str, jsonl: Path, *extra: str) -> DemoProcess:
    return DemoProcess(
        ["--model", str(model), "--source", source, "--headless", "--jsonl", str(jsonl), *extra]
    )


def wait_for_records(jsonl: Path, count: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = jsonl.read_text().splitlines() if jsonl.exists() else []
        if len(lines) >= count:
            return len(lines)
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} records in {jsonl} after {timeout} s")


def summary_frames(stderr: str, ending: str) -> int:
    line = next(line for line in stderr.splitlines() if f"{ending}: " in line)
    return int(line.split(f"{ending}: ", 1)[1].split(" frames", 1)[0])


# ---------------------------------------------------------------- network streams


# SIGHUP: the SSH session or terminal the demo ran in closed, the same clean stop as SIGTERM.
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_while_reading_a_live_mjpeg_stream(model, camera, tmp_path, signum):
    jsonl = tmp_path / "readings.jsonl"
    with demo(model, camera.url, jsonl) as process:
        wait_for_records(jsonl, 10)
        code, elapsed = process.signal_and_wait(signum)
    assert code == 0 and elapsed < STOP_WITHIN_S, (code, elapsed, process.stderr)
    assert summary_frames(process.stderr, f"stopped by {signal.Signals(signum).name}") >= 10
    assert "mean ms per frame" in process.stderr
    assert "frame read failed" not in process.stderr  # the stop is not taken for a read error
    assert "Traceback" not in process.stderr


def test_sigterm_while_a_read_is_blocked_on_a_stalled_stream(model, camera, tmp_path):
    jsonl = tmp_path / "readings.jsonl"
    with demo(model, camera.url, jsonl) as process:
        wait_for_records(jsonl, 5)
        camera.stall()  # connection open, no more bytes: the read blocks inside FFmpeg
        time.sleep(1.0)
        stalled_at = len(jsonl.read_text().splitlines())
        code, elapsed = process.signal_and_wait(signal.SIGTERM)
    assert code == 0 and elapsed < STOP_WITHIN_S, (code, elapsed, process.stderr)
    assert summary_frames(process.stderr, "stopped by SIGTERM") == stalled_at
    assert "frame read failed" not in process.stderr  # it was still blocked in the read


def test_sigterm_while_reconnecting_to_a_stream_that_went_away(model, camera, tmp_path):
    jsonl = tmp_path / "readings.jsonl"
    with demo(model, camera.url, jsonl, "--retries", "30") as process:
        wait_for_records(jsonl, 5)
        camera.stop()
        process.wait_for_line(lambda line: "retry 4/30" in line, 20)  # backing off by now
        code, elapsed = process.signal_and_wait(signal.SIGTERM)
    assert code == 0 and elapsed < STOP_WITHIN_S, (code, elapsed, process.stderr)
    assert "stopped by SIGTERM: " in process.stderr


def test_ctrl_c_exits_130_with_the_summary(model, camera, tmp_path):
    jsonl = tmp_path / "readings.jsonl"
    with demo(model, camera.url, jsonl) as process:
        wait_for_records(jsonl, 5)
        code, elapsed = process.signal_and_wait(signal.SIGINT)
    assert code == 130 and elapsed < STOP_WITHIN_S, (code, elapsed, process.stderr)
    assert summary_frames(process.stderr, "interrupted") >= 5


def test_a_stream_that_drops_is_reconnected(model, camera, tmp_path):
    jsonl = tmp_path / "readings.jsonl"
    with demo(model, camera.url, jsonl, "--retries", "30") as process:
        before = wait_for_records(jsonl, 5)
        camera.stop()
        process.wait_for_line(lambda line: "retry 2/30" in line, 20)
        camera.start()  # the camera is back, on the same address
        wait_for_records(jsonl, before + 20, timeout=30)
        code, elapsed = process.signal_and_wait(signal.SIGTERM)
    assert code == 0 and elapsed < STOP_WITHIN_S
    assert summary_frames(process.stderr, "stopped by SIGTERM") >= before + 20


def test_sigterm_while_serving_a_stalled_viewer_and_the_broker_is_away(model, camera, tmp_path):
    jsonl = tmp_path / "readings.jsonl"
    nobody = free_port()  # no broker there: the publisher keeps reconnecting
    extra = ("--serve", "127.0.0.1:0", "--mqtt", f"mqtt://127.0.0.1:{nobody}/digits")
    with demo(model, camera.url, jsonl, *extra) as process:
        line = process.wait_for_line(lambda text: "live view on http" in text, 30)
        port = int(line.split("127.0.0.1:", 1)[1].split("/", 1)[0])
        viewer = socket.socket()
        viewer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        viewer.connect(("127.0.0.1", port))
        # it asks for the video and never reads it
        viewer.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        events = socket.create_connection(("127.0.0.1", port), timeout=5)
        events.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        wait_for_records(jsonl, 30)
        # The warning says why: nothing listens there.
        process.wait_for_line(lambda text: "unreachable" in text and "refused" in text, 20)
        code, elapsed = process.signal_and_wait(signal.SIGTERM)
        viewer.close()
        events.close()
    assert code == 0 and elapsed < STOP_WITHIN_S, (code, elapsed, process.stderr)
    assert "stopped by SIGTERM: " in process.stderr


# ---------------------------------------------------------------- finite sources and bad input


def test_finite_sources_still_end_normally(model, tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for index in range(12):
        writer.write(digit_frame(str(index % 10), (320, 240)))
    writer.release()
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f"page{index}.png"), digit_frame(str(index), (200, 150)))
    for source, frames, ending in (
        (video, 12, "end of video file"),
        (folder, 3, "end of image folder"),
    ):
        jsonl = tmp_path / f"{source.name}.jsonl"
        with demo(model, str(source), jsonl, "--serve", "127.0.0.1:0") as process:
            assert process.wait(60) == 0, process.stderr
        assert len(jsonl.read_text().splitlines()) == frames
        assert f"{ending} " in process.stderr and f": {frames} frames" in process.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "no/such/video.mp4"], "source 'no/such/video.mp4' not found"),
        (["--serve", "127.0.0.1:{busy}"], "--serve cannot listen on 127.0.0.1:"),
        (["--mqtt", "mqtts://127.0.0.1/t", "--mqtt-ca", "/no/such/ca.pem"], "--mqtt-ca"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(model, tmp_path, capsys, args, message):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = [a.replace("{busy}", str(port)) for a in args]
        code = cli.main(["--model", str(model), "--headless", "--source", str(tmp_path), *args])
    assert code == 2
    err = capsys.readouterr().err
    assert f"digit-camera: error: {message}" in err and "Traceback" not in err


def test_a_bad_model_exits_2(tmp_path, capsys):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    assert cli.main(["--model", str(bad), "--source", str(tmp_path), "--headless"]) == 2
    assert "digit-camera: error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url", ["http://broker/t", "mqtt://broker", "mqtt://broker/a/#", "mqtt://:1883/t"]
)
def test_bad_mqtt_urls_exit_2(url, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model", "m.tflite", "--mqtt", url])
    assert exit_info.value.code == 2
    assert "--mqtt" in capsys.readouterr().err


# ---------------------------------------------------------------- the pieces


class EndlessFailingCapture:
    def isOpened(self) -> bool:
        return True

    def read(self):
        return False, None

    def grab(self) -> bool:
        return False

    def release(self) -> None:
        pass


def next_in_thread(reader: ThreadedReader) -> tuple[threading.Thread, list]:
    """Call ``reader.next()`` in a thread (the main loop's place); its outcome lands in the list."""
    outcome: list = []

    def call() -> None:
        try:
            outcome.append(reader.next())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, outcome


def test_a_stop_ends_the_retry_back_off_at_once():
    stop = StopRequest()
    policy = RetryPolicy(attempts=10, first_delay=5.0, max_delay=5.0)
    source = CaptureSource(EndlessFailingCapture, "stream x", live=True, retry=policy)
    reader = ThreadedReader(source, stop)
    waiter, outcome = next_in_thread(reader)
    time.sleep(0.3)  # the reader is in its first 5 s back-off now
    assert reader._thread.is_alive() and not outcome
    started = time.monotonic()
    stop.request("test stop")
    waiter.join(2)
    assert isinstance(outcome[0], StopRequested)
    reader.close()
    assert time.monotonic() - started < 0.5
    assert not reader._thread.is_alive()


class BlockedSource(FrameSource):
    description = "blocked"

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def _next_image(self):
        time.sleep(30)  # a read that nothing interrupts, like FFmpeg on a stalled stream
        return np.zeros((2, 2), np.uint8), ""

    def close(self) -> None:
        self.closed = True


def test_a_blocked_read_is_left_behind_and_its_source_not_released_under_it():
    stop = StopRequest()
    source = BlockedSource()
    reader = ThreadedReader(source, stop)
    waiter, outcome = next_in_thread(reader)
    time.sleep(0.2)
    started = time.monotonic()
    stop.request("test stop")
    waiter.join(2)
    assert isinstance(outcome[0], StopRequested)
    reader.close(timeout=0.2)
    assert time.monotonic() - started < 0.5
    assert reader._thread.is_alive()  # still blocked in the read, left behind
    assert not source.closed  # releasing a capture mid-read could crash the decoder


def test_frames_read_before_a_stop_are_still_processed():
    stop = StopRequest()
    source = CaptureSource(
        lambda: FrameCapture(3), "stream y", live=True, retry=RetryPolicy(attempts=0)
    )
    reader = ThreadedReader(source, stop)
    assert reader.next().index == 0
    time.sleep(0.2)  # frame 1 is read and waiting
    stop.request("test stop")
    assert reader.next().index == 1
    time.sleep(0.2)  # frame 2, read before the stop too, would be queued by now
    with pytest.raises(StopRequested):
        reader.next()
    reader.close()


class FrameCapture(EndlessFailingCapture):
    def __init__(self, frames: int) -> None:
        self.left = frames

    def read(self):
        self.left -= 1
        return (True, np.zeros((2, 2), np.uint8)) if self.left >= 0 else (False, None)

    def grab(self) -> bool:
        return self.read()[0]


class LiveCamera(FrameSource):
    """A live camera delivering a frame every ``period`` s, each named by when it was taken;
    counts the frames decoded (read) and dropped (skipped)."""

    description = "live camera"
    live = True

    def __init__(self, period: float) -> None:
        super().__init__()
        self.period = period
        self.decoded = self.dropped = 0

    def _next_image(self):
        time.sleep(self.period)
        self.decoded += 1
        return np.zeros((2, 2), np.uint8), repr(time.monotonic())

    def skip(self) -> bool:
        time.sleep(self.period)
        self.dropped += 1
        return True


def test_a_live_source_read_as_fast_as_it_comes_loses_no_frame():
    """A loop keeping up takes each frame at once: none may be dropped (dropping the frame
    that came while the last one was being taken read a 15 fps stream at 7.6 FPS)."""
    camera = LiveCamera(period=0.05)
    reader = ThreadedReader(camera, StopRequest())
    started = time.monotonic()
    indices = [reader.next().index for _ in range(10)]
    elapsed = time.monotonic() - started
    reader.close()
    assert indices == list(range(10))
    assert camera.dropped <= 1, camera.dropped
    assert elapsed < 0.8, elapsed  # 10 frames of 0.05 s; every other one dropped took 1 s


def test_a_live_source_read_at_max_fps_hands_over_fresh_frames_decoding_only_those():
    """Read one ahead and held, a frame taken at --max-fps 3 was a whole interval old."""
    camera = LiveCamera(period=0.02)
    reader = ThreadedReader(camera, StopRequest(), min_interval=0.3)
    ages = []
    for _ in range(4):
        frame = reader.next()
        ages.append(time.monotonic() - float(frame.name))
        time.sleep(0.3)  # the loop processes, then waits out the interval
    reader.close()
    assert max(ages[1:]) < 0.15, ages
    assert camera.dropped >= 20  # 0.9 s of frames at 50 a second, less the decoded ones
    assert camera.decoded <= 6


@pytest.fixture
def ctrl_c_reaches_the_tests():
    """Python's own SIGINT handler while the test runs, however the test run was started (a
    background job's SIGINT is ignored, and the demo leaves an ignored signal ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_signal_handlers_record_the_stop_and_are_restored(ctrl_c_reaches_the_tests):
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals(StopRequest()) as stop:
        signal.raise_signal(signal.SIGTERM)
        assert stop.wait(5) and (stop.reason, stop.exit_code) == ("stopped by SIGTERM", 0)
        signal.raise_signal(signal.SIGTERM)  # a second SIGTERM changes nothing
        assert (stop.reason, stop.exit_code) == ("stopped by SIGTERM", 0)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == previous
    with stop_on_signals(StopRequest()) as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.wait(5) and (stop.reason, stop.exit_code) == ("interrupted", 130)
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C twice: now
            signal.raise_signal(signal.SIGINT)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this system")
def test_a_signal_ignored_before_the_demo_started_stays_ignored():
    """``nohup digit-camera ... &``: logging out of the SSH session does not stop it."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop_on_signals(StopRequest()) as stop:
            signal.raise_signal(signal.SIGHUP)
            assert not stop.wait(0.3)
            signal.raise_signal(signal.SIGTERM)  # the others still stop it
            assert stop.wait(5) and stop.reason == "stopped by SIGTERM"
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_an_ignored_sigterm_is_said_at_start(caplog):
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with (
            caplog.at_level("WARNING", logger="camera_demo"),
            stop_on_signals(StopRequest()) as stop,
        ):
            signal.raise_signal(signal.SIGTERM)
            assert not stop.wait(0.3)
        assert "SIGTERM is ignored in this process" in caplog.text
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_signal_inside_the_main_threads_own_wait_still_stops_it():
    # The handler runs between two bytecodes of the main thread, possibly inside its own
    # stop.wait() (the demo's --max-fps pacing), which holds the event's lock on its way in
    # and out; a handler that set the event there waited on that lock forever. Holding the
    # lock (CPython's Event keeps it in _cond) makes that moment certain. In a child process,
    # so that a regression fails by its timeout instead of hanging the test run.
    program = (
        "import os, signal\n"
        "from camera_demo.stopping import StopRequest, stop_on_signals\n"
        "with stop_on_signals(StopRequest()) as stop:\n"
        "    with stop._cond:\n"
        "        signal.raise_signal(signal.SIGTERM)\n"
        "    print(stop.wait(5), stop.reason)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True stopped by SIGTERM"


def test_a_stop_the_main_thread_cannot_reach_ends_the_process_all_the_same():
    """SIGTERM while the loop's write to stdout is blocked (a pipe whose reader stopped
    reading) was only recorded, and the demo ran on for as long as the reader slept."""
    program = (
        "import os, signal, sys, time\n"
        "from camera_demo import stopping\n"
        "stopping.FORCED_EXIT_AFTER_S = 0.5\n"
        "with stopping.stop_on_signals(stopping.StopRequest()) as stop:\n"
        "    signal.raise_signal(signal.SIGTERM)\n"
        "    time.sleep(30)  # blocked where no stop reaches, as in a write to a full pipe\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30, cwd=REPO
    )
    assert time.monotonic() - started < 15
    assert done.returncode == 0  # SIGTERM's code in the demo
    assert "stopped by SIGTERM, but the demo did not stop within 0.5 s" in done.stderr
    assert "ending it now" in done.stderr


@pytest.mark.parametrize("left_behind", [False, True], ids=["no-thread", "a-thread-left"])
def test_the_process_ends_with_its_code_and_its_output_whatever_threads_are_left(left_behind):
    # A thread still busy when the demo is done (here writing to stderr in a loop, as a left
    # viewer's connection might) must not take part in Python's teardown: the process ends
    # at once with the demo's code and everything it printed.
    program = (
        "import sys, threading, time\n"
        "from camera_demo.stopping import end_process\n"
        "def busy():\n"
        "    while True:\n"
        "        sys.stderr.write('busy\\n')\n"
        f"if {left_behind}:\n"
        "    threading.Thread(target=busy, daemon=True).start()\n"
        "    time.sleep(0.1)\n"
        "print('summary line')\n"
        "raise SystemExit(end_process(3))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a service's stdout
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30, env=env
    )
    assert done.returncode == 3
    assert done.stdout == "summary line\n"


def test_the_console_script_ends_through_end_process():
    assert "end_process(main(argv))" in inspect.getsource(cli.entry.__wrapped__)
    assert (
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["digit-camera"]
        == "camera_demo.cli:entry"
    )


def test_jsonl_records_are_whole_after_a_stop(model, camera, tmp_path):
    jsonl = tmp_path / "readings.jsonl"
    with demo(model, camera.url, jsonl) as process:
        wait_for_records(jsonl, 5)
        process.signal_and_wait(signal.SIGTERM)
    assert all(json.loads(line)["frame"] >= 0 for line in jsonl.read_text().splitlines())
