"""Test doubles with real sockets: an MJPEG camera stream, a Mosquitto broker, the demo process.

Everything listens on 127.0.0.1 on a free port, and every wait here has a deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BOUNDARY = "digitkitframe"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def random_model(path: Path) -> Path:
    """A valid digit model with random weights (reads nonsense, fast): for tests of plumbing."""
    import tflite_builder as tb

    parity = {"accuracy": 0.1, "agreement_with_keras": 1.0}
    path.write_bytes(tb.with_metadata(tb.float_mlp(tb.FloatMlp.random()), parity=parity))
    return path


def digit_frame(text: str, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A BGR frame of dark printed ``text`` on light paper."""
    import cv2

    frame = np.full((size[1], size[0], 3), 230, np.uint8)
    cv2.putText(
        frame, text, (size[0] // 4, size[1] * 2 // 3), cv2.FONT_HERSHEY_SIMPLEX, 5, (20, 20, 20), 16
    )
    return frame


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


class MjpegCamera:
    """A network camera: ``http://127.0.0.1:PORT/stream.mjpg`` serves ``frames`` in a loop at ``fps``.

    ``stall()`` keeps connections open but stops sending (a hung camera); ``stop()`` closes the
    listening socket and every connection (a camera that went away); ``start()`` (again) serves
    on the same port.
    """

    def __init__(self, frames: list[np.ndarray], fps: float = 20.0, port: int = 0) -> None:
        self.jpegs = [jpeg(frame) for frame in frames]
        self.fps = fps
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self.sent = 0
        self._stalled = threading.Event()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/stream.mjpg":
                    self.send_error(404)
                    return
                with camera._lock:
                    camera._connections.add(self.connection)
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                index = 0
                try:
                    while not camera._stopping.is_set():
                        if camera._stalled.is_set():
                            time.sleep(0.05)
                            continue
                        data = camera.jpegs[index % len(camera.jpegs)]
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(data)}\r\n\r\n".encode()
                            + data
                            + b"\r\n"
                        )
                        camera.sent += 1
                        index += 1
                        time.sleep(1.0 / camera.fps)
                except OSError:
                    pass
                finally:
                    with camera._lock:
                        camera._connections.discard(self.connection)

        return Handler

    def start(self) -> MjpegCamera:
        self._stopping.clear()
        self._stalled.clear()
        deadline = time.monotonic() + 10
        while True:  # the port may linger briefly after a stop
            try:
                self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stall(self) -> None:
        self._stalled.set()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> MjpegCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ``python -m camera_demo`` with Ctrl-C and a hang-up reaching it, as in a terminal, however
# the test run was started (a background job ignores SIGINT, ``nohup`` SIGHUP, and the demo
# leaves ignored signals ignored). A wrapper, not ``preexec_fn``: this process has threads.
_DEMO_AS_FROM_A_TERMINAL = (
    "import runpy, signal\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
    "runpy.run_module('camera_demo', run_name='__main__', alter_sys=True)\n"
)


class DemoProcess:
    """``python -m camera_demo ARGS`` in a child process, with its stderr collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DIGIT_KIT_SERVE")},
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", _DEMO_AS_FROM_A_TERMINAL, *args],
            cwd=REPO,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """The first stderr line matching ``predicate``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            lines = list(self.lines)
            for line in lines[seen:]:
                if predicate(line):
                    return line
            seen = len(lines)
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(
            f"no matching line within {timeout} s (exit code {self.process.poll()}); "
            f"stderr:\n{self.stderr}"
        )

    def signal_and_wait(self, signum: int, timeout: float = 10.0) -> tuple[int, float]:
        """Send ``signum``; return the exit code and the seconds it took to exit."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        elapsed = time.monotonic() - sent
        self._reader.join(5)
        return code, elapsed

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._reader.join(5)

    def __enter__(self) -> DemoProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
