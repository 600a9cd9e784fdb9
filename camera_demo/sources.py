"""Frame sources behind one interface: cameras, video files and streams, image folders, picamera2.

Every source is a context manager with ``read() -> Frame | None`` (``None`` at the end of a
finite source) and iterates over its frames. Live sources (cameras, streams, picamera2) retry
a failed read with exponential backoff, reopening the device, before raising ``SourceError``;
a back-off wait ends at once, with ``SourceStopped``, when the event given to
``interrupt_with`` is set. Network streams are opened with read and open timeouts, so a stream
that stalls counts as a failed read after ``STREAM_READ_TIMEOUT_MS`` and is reopened.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import numpy as np

from camera_demo.resources import Closable
from runtime.errors import DigitKitError, ImageError
from runtime.images import read_image_file

log = logging.getLogger("camera_demo")

# Extensions OpenCV's imread decodes in the opencv-python wheels.
IMAGE_SUFFIXES = frozenset(
    {
        *(".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".avif"),
        *(".pgm", ".ppm", ".pbm", ".pnm", ".pxm", ".pfm", ".sr", ".ras", ".hdr", ".pic", ".exr"),
        ".jp2",
    }
)
# A GIF alone is an animation, played as a video; in a folder of pictures it is one picture
# (its first frame, where this OpenCV decodes GIFs; one without a GIF decoder skips it and
# says so).
FOLDER_SUFFIXES = IMAGE_SUFFIXES | {".gif"}
PICAMERA = "picamera"
DEFAULT_CAMERA_SIZE = (640, 480)
# OpenCV waits 30 s by default on a stream that stopped sending; a stalled camera should be
# noticed and reopened sooner. These need OpenCV 4.5.2+ (Debian Bookworm has 4.6).
STREAM_OPEN_TIMEOUT_MS = 10_000
STREAM_READ_TIMEOUT_MS = 5_000


class SourceError(DigitKitError):
    """A frame source cannot be opened, or a live source stopped delivering frames."""


class SourceStopped(Exception):
    """A read gave up because the source was asked to stop (see ``FrameSource.interrupt_with``)."""


@dataclass(frozen=True)
class Frame:
    """One frame: its 0-based index in the source, the pixels, and a name (file name for folders)."""

    index: int
    image: np.ndarray
    name: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """How a live source retries a failed read: ``attempts`` more reads, delays growing by ``factor``."""

    attempts: int = 5
    first_delay: float = 0.1
    factor: float = 2.0
    max_delay: float = 2.0

    def delays(self) -> list[float]:
        return [
            min(self.first_delay * self.factor**i, self.max_delay) for i in range(self.attempts)
        ]


class FrameSource(ABC, Closable):
    """Common interface: ``read()`` the next frame or ``None`` at the end; ``close()`` releases it."""

    description: str = "source"
    live: bool = False
    frames_are_scenes: bool = False  # separate pictures, not one scene over time

    def __init__(self) -> None:
        self._count = 0
        self._interrupt: threading.Event | None = None

    def interrupt_with(self, event: threading.Event) -> None:
        """Make retry waits end (raising ``SourceStopped``) as soon as ``event`` is set."""
        self._interrupt = event

    @abstractmethod
    def _next_image(self) -> tuple[np.ndarray, str] | None:
        """The next image and its name, or ``None`` at the end of the source."""

    def close(self) -> None:
        """Release the device or file."""

    def skip(self) -> bool:
        """Take a live source's next frame and drop it, as cheaply as the source can; False
        when that failed (the next ``read`` retries). Frames are counted by ``read`` only."""
        try:
            return self._next_image() is not None
        except Exception:  # drivers raise anything; the next read() reports it
            return False

    def read(self) -> Frame | None:
        """Return the next frame, or ``None`` when a finite source is exhausted."""
        item = self._next_image()
        if item is None:
            return None
        frame = Frame(self._count, item[0], item[1])
        self._count += 1
        return frame

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame


def read_with_retry(
    grab: Callable[[], np.ndarray | None],
    reopen: Callable[[], None],
    policy: RetryPolicy,
    description: str,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
    stream: bool = False,
) -> np.ndarray:
    """Call ``grab`` until it returns a non-empty image, backing off and reopening between tries.

    The first retry reads the source as it is (a camera may just have been slow) unless it is
    a network ``stream``, whose failed read means its connection is gone; later retries reopen
    it. The final error says what to check for a stream or for a camera. With ``stop``, the back-off waits on it and
    ``SourceStopped`` is raised once it is set.
    """
    failure = ""
    started = time.monotonic()
    for attempt, delay in enumerate([0.0, *policy.delays()]):
        if stop is not None and stop.is_set():
            raise SourceStopped(description)
        if attempt:
            log.warning(
                "%s: frame read failed (%s); retry %d/%d in %.2f s",
                description,
                failure,
                attempt,
                policy.attempts,
                delay,
            )
            if stop is None:
                sleep(delay)
            elif stop.wait(delay):
                raise SourceStopped(description)
            # A second failure in a row (or the last retry): the device may have reset; open
            # it anew.
            if stream or attempt > 1 or attempt == policy.attempts:
                try:
                    reopen()
                except Exception as exc:  # reopening is best effort; the next read decides
                    failure = f"reopen failed: {exc}"
                    continue
        try:
            image = grab()
        except Exception as exc:  # drivers raise anything (cv2.error, OSError, RuntimeError)
            failure = f"{type(exc).__name__}: {exc}"
            continue
        if image is not None and image.size:
            return image
        failure = "no frame returned"
    if stream:
        hint = "Check the URL, the network, and that the stream's server is up."
    else:
        hint = (
            "Check that it is connected and powered, that no other program is using it, and "
            "that your user may access it (the 'video' group on Linux)."
        )
    raise SourceError(
        f"{description} stopped delivering frames: {policy.attempts + 1} reads failed over "
        f"{time.monotonic() - started:.1f} s (last: {failure}). {hint}"
    )


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` the capture source uses (fakes implement it in tests)."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def grab(self) -> bool: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...


class CaptureSource(FrameSource):
    """Frames from an OpenCV ``VideoCapture``: a camera, a video file or a network stream.

    ``open_capture`` builds the capture (it is called again to reopen a live source).
    A finite source (file) ends at its first failed read; a live one retries per ``retry``.
    A network stream (``stream``) is reopened at its first retry: a failed read there means
    its connection dropped or stalled, and reading the same connection again only fails
    again (a second warning for the one failure, and for a stall another read timeout).
    """

    def __init__(
        self,
        open_capture: Callable[[], Capture],
        description: str,
        live: bool,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stream: bool = False,
    ) -> None:
        super().__init__()
        self.description = description
        self.live = live
        self._stream = stream
        self._open_capture = open_capture
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._capture = open_capture()
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"cannot open {description}{_open_hint(description, live)}")
        self._frames_read = 0

    def _grab(self) -> np.ndarray | None:
        ok, image = self._capture.read()
        return image if ok else None

    def skip(self) -> bool:
        """Advance past a frame without decoding it (``VideoCapture.grab``)."""
        try:
            return bool(self._capture.grab())
        except Exception:  # cv2.error from a broken stream; the next read() retries
            return False

    def _reopen(self) -> None:
        self._capture.release()
        self._capture = self._open_capture()

    def _next_image(self) -> tuple[np.ndarray, str] | None:
        if not self.live:
            image = self._grab()
            if image is None or not image.size:
                self._warn_if_cut_short()
                return None
            self._frames_read += 1
            return image, ""
        return read_with_retry(
            self._grab,
            self._reopen,
            self._retry,
            self.description,
            self._sleep,
            self._interrupt,
            stream=self._stream,
        ), ""

    def _warn_if_cut_short(self) -> None:
        """A video file that ends before the frame count its header gives was cut short (a
        copy or recording that was interrupted): say so instead of ending as if complete."""
        import cv2

        expected = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        # the count is estimated from the duration in some containers: allow a frame or two
        if expected > 0 and self._frames_read < expected - max(2.0, 0.01 * expected):
            log.warning(
                "%s ended after %d of the %d frames its header announces: the file looks cut short",
                self.description,
                self._frames_read,
                round(expected),
            )

    def close(self) -> None:
        self._capture.release()


def _open_hint(description: str, live: bool) -> str:
    if description.startswith("camera"):
        return (
            ": check that it is connected, not used by another program, and that your user is in "
            "the 'video' group (ls -l /dev/video*)"
        )
    if live:
        return ": check the URL and that the stream is reachable"
    return ": OpenCV/FFmpeg cannot decode it (not a video, or a codec it lacks)"


def host_and_port(host: str, port: int) -> str:
    """``HOST:PORT`` as URLs and messages write it, an IPv6 address in brackets (``[::1]:8080``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def redact_url(url: str) -> str:
    """``url`` without a password or query values, for logs and errors (``rtsp://user:secret@cam``
    -> ``rtsp://user:***@cam``; many cameras take their credentials in the query,
    ``?user=admin&pwd=secret`` -> ``?user=***&pwd=***``)."""
    # Users type passwords holding @, / or ? unescaped: the password runs to the URL's last @,
    # hiding too much (an @ later in the path or query) rather than part of a secret.
    url = re.sub(r"(://[^/@:?#]*:).*@", r"\1***@", url, count=1, flags=re.DOTALL)
    base, mark, query = url.partition("?")
    if not mark:
        return url
    return base + mark + re.sub(r"=[^&#]*", "=***", query)


def _natural_key(path: Path) -> list[int | str]:
    # frame2.png before frame10.png; sorted() alone would put 10 first.
    return [
        int(part) if part.isdecimal() else part.lower() for part in re.split(r"(\d+)", path.name)
    ]


class ImageFolderSource(FrameSource):
    """Every image file in a folder, in natural name order; unreadable images are logged and skipped."""

    frames_are_scenes = True

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.description = f"image folder {self.folder}"
        self.paths = sorted(
            (
                p
                for p in self.folder.iterdir()
                if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES
            ),
            key=_natural_key,
        )
        if not self.paths:
            raise SourceError(
                f"image folder {self.folder} holds no image files "
                f"(looked for {', '.join(sorted(FOLDER_SUFFIXES))})"
            )
        self._position = 0
        self.skipped: list[Path] = []

    def _next_image(self) -> tuple[np.ndarray, str] | None:
        while self._position < len(self.paths):
            path = self.paths[self._position]
            self._position += 1
            try:
                return read_image_file(path), path.name
            except ImageError as exc:
                self.skipped.append(path)
                log.warning("skipping %s", exc)
        return None


class SingleImageSource(ImageFolderSource):
    """One image file as a one-frame source."""

    def __init__(self, path: str | Path) -> None:
        FrameSource.__init__(self)
        self.folder = Path(path).parent
        self.description = f"image {path}"
        self.paths = [Path(path)]
        self._position = 0
        self.skipped = []
        try:  # a one-image source that cannot be read does not open
            self._image = read_image_file(path)
        except ImageError as exc:
            raise SourceError(str(exc)) from None

    def _next_image(self) -> tuple[np.ndarray, str] | None:
        if self._position:
            return None
        self._position = 1
        return self._image, self.paths[0].name


class PiCameraSource(FrameSource):
    """A Raspberry Pi camera through picamera2, reading the Y plane of its YUV420 "lores" stream.

    The Y plane is already the gray image the reader needs, so no color conversion is done.
    """

    live = True

    def __init__(
        self,
        size: tuple[int, int] = DEFAULT_CAMERA_SIZE,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise SourceError(
                "--source picamera needs the picamera2 package, which is not importable here "
                f"({exc}). On Raspberry Pi OS: sudo apt install python3-picamera2, and create the "
                "virtual environment with --system-site-packages so it can see it."
            ) from exc
        self.description = f"Raspberry Pi camera ({size[0]}x{size[1]} YUV420 lores)"
        self._factory = Picamera2
        self._size = size
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._camera = None
        try:
            self._open()
        except Exception as exc:  # libcamera reports a missing camera as IndexError/RuntimeError
            self.close()
            raise SourceError(
                f"cannot start the Raspberry Pi camera ({type(exc).__name__}: {exc}): check the ribbon "
                "cable and that `rpicam-hello --list-cameras` lists it"
            ) from exc

    def _open(self) -> None:
        camera = self._factory()
        self._camera = camera
        config = camera.create_video_configuration(
            main={"size": self._size}, lores={"size": self._size, "format": "YUV420"}
        )
        camera.configure(config)
        camera.start()

    def _reopen(self) -> None:
        self.close()
        self._open()

    def _grab(self) -> np.ndarray:
        width, height = self._size
        # YUV420 arrives as (height * 3 / 2, stride): the first `height` rows are luminance.
        # Without a timeout picamera2 waits for a frame as long as it takes: a stalled camera
        # would hang the reader instead of being retried and reopened.
        image = self._camera.capture_array("lores", wait=STREAM_READ_TIMEOUT_MS / 1000)
        return image[:height, :width]

    def _next_image(self) -> tuple[np.ndarray, str] | None:
        return read_with_retry(
            self._grab, self._reopen, self._retry, self.description, self._sleep, self._interrupt
        ), ""

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
            finally:
                camera.close()


def _camera_capture(device: int | str, size: tuple[int, int]) -> Callable[[], Capture]:
    import cv2

    # V4L2 directly on Linux: OpenCV's default probe order may pick GStreamer or fail on paths.
    backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY

    def open_capture() -> Capture:
        capture = cv2.VideoCapture(device, backend)
        if capture.isOpened():
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # read the newest frame, not a stale queue
        return capture

    return open_capture


def _file_capture(target: str) -> Callable[[], Capture]:
    import cv2

    return lambda: cv2.VideoCapture(target)


def _stream_capture(url: str) -> Callable[[], Capture]:
    """Open ``url`` with FFmpeg and bounded open/read waits (any backend if FFmpeg is missing)."""
    import cv2

    timeouts = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        STREAM_OPEN_TIMEOUT_MS,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        STREAM_READ_TIMEOUT_MS,
    ]

    if not cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG):
        return lambda: cv2.VideoCapture(url)  # an OpenCV built with GStreamer only
    return lambda: cv2.VideoCapture(url, cv2.CAP_FFMPEG, timeouts)


def without_file_scheme(spec: str) -> str:
    """The path a ``file://`` URL names; any other source as it is. (OpenCV would read the
    URL as a stream: reopened at its end, never finished.)"""
    return unquote(urlsplit(spec).path) if spec.startswith("file://") else spec


def open_source(
    spec: str,
    camera_size: tuple[int, int] = DEFAULT_CAMERA_SIZE,
    retry: RetryPolicy | None = None,
) -> FrameSource:
    """Open the source named by ``spec``.

    ``spec`` is a camera index (``0``), a V4L2 device path (``/dev/video0``), a stream URL
    (``rtsp://``, ``http://``...), a video file, an image file, a folder of images, or
    ``picamera``; a ``file://`` URL is the file it names. Raises ``SourceError`` with what
    was tried when it cannot be opened.
    """
    if not spec.strip():
        raise SourceError("the source is empty: give a camera index, a device, a URL or a path")
    spec = without_file_scheme(spec)
    if spec == PICAMERA:
        return PiCameraSource(camera_size, retry)
    if spec.isascii() and spec.isdigit():
        try:
            return CaptureSource(
                _camera_capture(int(spec), camera_size), f"camera {spec}", True, retry
            )
        except SourceError as exc:
            if Path(spec).exists():  # a number is a camera index; the path needs ./
                raise SourceError(
                    f"{exc}; to read the file or folder {spec}, give ./{spec}"
                ) from None
            raise
    if spec.startswith("/dev/"):
        if not Path(spec).exists():
            raise SourceError(
                f"camera device {spec} does not exist (ls /dev/video* lists the cameras)"
            )
        return CaptureSource(_camera_capture(spec, camera_size), f"camera {spec}", True, retry)
    if "://" in spec:
        return CaptureSource(
            _stream_capture(spec), f"stream {redact_url(spec)}", True, retry, stream=True
        )
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return SingleImageSource(path)
        return CaptureSource(_file_capture(str(path)), f"video file {path}", False, retry)
    raise SourceError(
        f"source {spec!r} not found: expected a camera index such as 0, a /dev/video* device, "
        "an rtsp:// or http:// stream URL, a video file, an image folder, or 'picamera'"
    )
