"""Frame reads in their own thread, so the main loop can stop while a read is blocked.

``cv2.VideoCapture.read()`` on a stalled network stream blocks in C for seconds and cannot be
interrupted. The reader thread does the blocking reads (one frame ahead, which also overlaps
decoding with processing); the main loop waits for frames in short slices and gives up on a
stop. A reader still blocked after the stop is left behind (it is a daemon thread) and its
capture is not released under it: releasing a capture during a read can crash FFmpeg.

A live source does not wait for the loop: a camera's driver keeps its last few frames and a
stream's server keeps sending, so a frame read one ahead and held, or read from a backlog, is
old by the time it is processed (by a whole interval with ``--max-fps``). While the loop has
not taken the frame handed over, or its next frame is not yet due, the reader drops the
source's frames as they come (``FrameSource.skip``, no decoding) and reads in full only the
one that will be processed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from camera_demo.sources import Frame, FrameSource, SourceStopped
from camera_demo.stopping import StopRequest, StopRequested

log = logging.getLogger("camera_demo")
POLL_S = 0.05
# A source whose skip returns at once (a backend that does not wait for the camera) is asked
# again after this long rather than in a busy loop.
_SKIP_PAUSE_S = 0.005


class ThreadedReader:
    """Reads ``source`` in a daemon thread, started by the first ``next()``; frames come in order."""

    def __init__(self, source: FrameSource, stop: StopRequest, min_interval: float = 0.0) -> None:
        self.source = source
        self._stop = stop
        self._min_interval = min_interval  # seconds from asking for one frame to the next
        self._due: float | None = 0.0  # when the loop will ask for the next frame; None while
        # the frame handed over is not taken yet
        self._taken = threading.Event()  # set when the loop takes the frame handed over
        self._frame_period = 0.0  # how long the live source takes per frame (a running mean)
        self._closing = threading.Event()  # ends the reader: a stop, or the loop is done
        source.interrupt_with(self._closing)
        self._frames: queue.Queue[tuple[Frame | None, BaseException | None]] = queue.Queue(1)
        self._thread = threading.Thread(target=self._run, name="frame-reader", daemon=True)
        self._handed_over_after_stop = False

    def _run(self) -> None:
        while not self._closing.is_set():
            if self.source.live:
                self._drop_frames_until_one_is_due()
                if self._closing.is_set():
                    return
            started = time.monotonic()
            try:
                item: tuple[Frame | None, BaseException | None] = (self.source.read(), None)
            except SourceStopped:
                return
            except BaseException as exc:  # re-raised in the main loop's thread
                item = (None, exc)
            self._time_frame(time.monotonic() - started)
            self._due = None  # before the put: the loop's take comes after it
            self._taken.clear()
            while not self._closing.is_set():
                try:
                    self._frames.put(item, timeout=POLL_S)
                    break
                except queue.Full:
                    continue
            if item[0] is None:
                return  # the end of the source, or an error

    def _drop_frames_until_one_is_due(self) -> None:
        """Skip the live source's frames while the loop is still busy with the last one (not
        taken within a frame period: a loop keeping up takes it at once) or, with a
        ``min_interval``, until the frame read next, taking one frame period, comes when due."""
        while not self._closing.is_set():
            if self._due is None and not self._taken_within(self._frame_period or POLL_S):
                self._skip()
                continue
            due = self._due
            if due is None:  # the wait ended with the reader closing
                continue
            if time.monotonic() + self._frame_period >= due:
                return
            self._skip()

    def _taken_within(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the loop to take the frame, in slices that a close ends."""
        deadline = time.monotonic() + seconds
        while not self._closing.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._taken.wait(min(left, POLL_S)):
                return True
        return False

    def _skip(self) -> None:
        started = time.monotonic()
        if not self.source.skip():
            self._closing.wait(POLL_S)  # the next read retries and reports a dead source
            return
        took = time.monotonic() - started
        self._time_frame(took)
        if took < _SKIP_PAUSE_S:
            self._closing.wait(_SKIP_PAUSE_S)

    def _time_frame(self, took: float) -> None:
        self._frame_period = (
            took if not self._frame_period else 0.8 * self._frame_period + 0.2 * took
        )

    def next(self) -> Frame | None:
        """The next frame, ``None`` at the end of the source; raises the source's errors.

        Raises ``StopRequested`` within ``POLL_S`` of a stop request.
        """
        asked = time.monotonic()  # the loop paces itself from here (--max-fps)
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
            self._due = asked + self._min_interval
            self._taken.set()
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
