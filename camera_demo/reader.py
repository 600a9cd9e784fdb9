"""Frame reads in their own thread, so the main loop can stop while a read is blocked.

``cv2.VideoCapture.read()`` on a stalled network stream blocks in C for seconds and cannot be
interrupted. The reader thread does the blocking reads (one frame ahead, which also overlaps
decoding with processing); the main loop waits for frames in short slices and gives up on a
stop. A reader still blocked after the stop is left behind (it is a daemon thread) and its
capture is not released under it: releasing a capture during a read can crash FFmpeg.
"""

from __future__ import annotations

import logging
import queue
import threading

from camera_demo.sources import Frame, FrameSource, SourceStopped
from camera_demo.stopping import StopRequest, StopRequested

log = logging.getLogger("camera_demo")
POLL_S = 0.05


class ThreadedReader:
    """Reads ``source`` in a daemon thread, started by the first ``next()``; frames come in order."""

    def __init__(self, source: FrameSource, stop: StopRequest) -> None:
        self.source = source
        self._stop = stop
        self._closing = threading.Event()  # ends the reader: a stop, or the loop is done
        source.interrupt_with(self._closing)
        self._frames: queue.Queue[tuple[Frame | None, BaseException | None]] = queue.Queue(1)
        self._thread = threading.Thread(target=self._run, name="frame-reader", daemon=True)
        self._handed_over_after_stop = False

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                item: tuple[Frame | None, BaseException | None] = (self.source.read(), None)
            except SourceStopped:
                return
            except BaseException as exc:  # re-raised in the main loop's thread
                item = (None, exc)
            while not self._closing.is_set():
                try:
                    self._frames.put(item, timeout=POLL_S)
                    break
                except queue.Full:
                    continue
            if item[0] is None:
                return  # the end of the source, or an error

    def next(self) -> Frame | None:
        """The next frame, ``None`` at the end of the source; raises the source's errors.

        Raises ``StopRequested`` within ``POLL_S`` of a stop request.
        """
        if self._thread.ident is None:
            self._thread.start()
        while True:
            if self._stop.is_set():
                return self._frame_queued_at_the_stop()
            try:
                frame, error = self._frames.get(timeout=POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._frames.empty():
                    raise StopRequested("the reader ended") from None
                continue
            if error is not None:
                raise error
            return frame

    def _frame_queued_at_the_stop(self) -> Frame | None:
        """Hands over the one frame read before the stop, if any; then raises ``StopRequested``.

        Only one: the reader thread may hold a further frame, read before the stop, that it
        queues as soon as this one is taken.
        """
        self._closing.set()  # ends the reader; wakes a retry back-off at once
        if not self._handed_over_after_stop:
            self._handed_over_after_stop = True
            try:
                frame, error = self._frames.get_nowait()
            except queue.Empty:
                pass
            else:
                if error is not None:
                    raise error
                return frame
        raise StopRequested(self._stop.reason)

    def close(self, timeout: float = 0.3) -> None:
        """End the reader; release the source unless a read is still blocked after ``timeout`` s."""
        self._closing.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning(
                "%s: a frame read is still blocked; leaving it to end with the process",
                self.source.description,
            )
            return
        self.source.close()
