"""The latest frame and reading, handed from the reading loop to the web view's threads.

The reading loop only stores a reference (``observe``): no copy, no lock, no encoding. The
frame arrays are never written after they are read, so other threads may read them while
the loop moves on; whoever draws on a frame draws on its own copy.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from camera_demo.output import frame_record
from camera_demo.pipeline import FrameReading
from camera_demo.sources import Frame

HISTORY = 20


@dataclass(frozen=True)
class Moment:
    """One processed frame as the loop saw it: ``seq`` counts frames from 1."""

    seq: int
    frame: Frame
    reading: FrameReading
    timings_ms: dict[str, float]
    fps: float
    time: float  # wall clock (seconds since the epoch)
    monotonic: float

    def record(self) -> dict:
        """The JSON object of this reading (as in the JSONL output), with ``fps``."""
        record = frame_record(self.reading, self.timings_ms, self.frame.name)
        record["time"] = round(self.time, 3)
        record["fps"] = round(self.fps, 1)
        return record


class LiveView:
    """The latest ``Moment`` and the recent changes of the numbers read, for readers in other threads."""

    def __init__(self, history: int = HISTORY) -> None:
        self.latest: Moment | None = None
        self.changes_seen = 0
        self._changes: deque[dict] = deque(maxlen=history)
        self.started = time.monotonic()

    def observe(
        self, frame: Frame, reading: FrameReading, timings_ms: dict[str, float], fps: float
    ) -> None:
        """Called by the reading loop for every frame: O(1), never blocks."""
        previous = self.latest
        now = time.time()
        moment = Moment(
            1 if previous is None else previous.seq + 1,
            frame,
            reading,
            timings_ms,
            fps,
            now,
            time.monotonic(),
        )
        if previous is None or reading.shown != previous.reading.shown:
            self._changes.appendleft(
                {
                    "number": reading.number,
                    "numbers": list(reading.numbers),
                    "frame": reading.index,
                    "time": round(now, 3),
                }
            )
            self.changes_seen += 1
        self.latest = moment  # one reference assignment: readers see the old or the new one

    def changes(self) -> list[dict]:
        """The recent changes of the numbers read, newest first."""
        return list(self._changes.copy())  # deque.copy is atomic; iterating a live deque is not
