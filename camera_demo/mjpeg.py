"""The annotated view as JPEG, encoded on demand for the viewers, at a capped rate.

Nothing is encoded while nobody asks: a frame is drawn and encoded only when a viewer is
ready for a new one, at most ``fps`` times a second however many viewers there are, and in
the viewer's thread (OpenCV releases the GIL while it encodes). Every viewer gets the newest
encoded frame; a viewer that is slow or stalled in its own socket write asks for nothing in
the meantime, so it skips frames and never holds anyone else up.
"""

from __future__ import annotations

import threading
import time

from camera_demo.live import LiveView, Moment

JPEG_QUALITY = 80


def encode_view(moment: Moment, quality: int = JPEG_QUALITY) -> bytes:
    """The frame of ``moment`` with its reading drawn over it, as JPEG bytes."""
    import cv2

    from camera_demo.overlay import draw_overlay
    from runtime.images import as_bgr_u8

    view = draw_overlay(as_bgr_u8(moment.frame.image), moment.reading, moment.fps)
    ok, data = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the view as JPEG")
    return data.tobytes()


class JpegFeed:
    """Shared JPEG encodings of the latest frame; ``next_after(seq)`` waits for a newer one."""

    def __init__(self, live: LiveView, fps: float, quality: int = JPEG_QUALITY) -> None:
        self._live = live
        self._interval = 1.0 / fps
        self._quality = quality
        self._cond = threading.Condition()
        self._cached: tuple[int, bytes, float] | None = None  # seq, jpeg, when encoded
        self._encoding = False
        self._next_due = 0.0
        self.encoded = 0

    def next_after(
        self, seq: int, timeout: float, closing: threading.Event | None = None
    ) -> tuple[int, bytes] | None:
        """A JPEG of a frame newer than ``seq`` as ``(seq, bytes)``, or ``None`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                latest = self._live.latest
                cached = self._cached
                if (
                    cached is not None
                    and cached[0] > seq
                    and (
                        now - cached[2] < self._interval
                        or latest is None
                        or latest.seq == cached[0]
                    )
                ):
                    return cached[0], cached[1]
                fresh = latest is not None and (cached is None or latest.seq > cached[0])
                if fresh and not self._encoding and now >= self._next_due:
                    self._encoding = True
                    self._next_due = now + self._interval
                    break
                if now >= deadline or (closing is not None and closing.is_set()):
                    return None
                wake = self._next_due if fresh and not self._encoding else now + self._interval
                self._cond.wait(max(0.005, min(wake, deadline) - now))
        assert latest is not None
        data: bytes | None = None
        try:
            data = encode_view(latest, self._quality)
        finally:
            with self._cond:
                self._encoding = False
                if data is not None and (self._cached is None or self._cached[0] < latest.seq):
                    self._cached = (latest.seq, data, time.monotonic())
                    self.encoded += 1
                self._cond.notify_all()
        return latest.seq, data
