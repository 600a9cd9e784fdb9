"""What the demo writes: one JSON record per frame (JSONL), snapshots, and the end-of-run summary.

The JSONL file is a live log rather than a finished artifact (a device may run for months),
so it is appended to instead of written atomically: each record is one ``write`` of a whole
line, flushed at once, so an interrupted run loses at most the line being written.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

import numpy as np

from camera_demo.pipeline import FrameReading
from camera_demo.resources import Closable
from runtime.atomic import write_bytes
from runtime.errors import DigitKitError
from runtime.images import as_bgr_u8, require_opencv

MS_DECIMALS = 3


def frame_record(reading: FrameReading, timings_ms: dict[str, float], name: str = "") -> dict:
    """The JSON object for one frame: index, digits in reading order, the number they spell
    (``number``, all digits run together) and the numbers as written (``numbers``),
    per-stage milliseconds."""
    record: dict = {"frame": reading.index, "time": round(time.time(), 3)}
    if name:
        record["file"] = name
    record["digits"] = [digit.to_json() for digit in reading.digits]
    record["number"] = reading.number
    record["numbers"] = list(reading.numbers)
    record["ms"] = {stage: round(ms, MS_DECIMALS) for stage, ms in timings_ms.items()}
    return record


class OutputError(DigitKitError):
    """An output the demo writes (JSONL, snapshots) cannot be written: the reading stops."""


def _ends_inside_a_line(path: Path) -> bool:
    """Whether the file at ``path`` exists and its last line has no end."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False


def _starts_as_json_lines(path: Path) -> bool:
    """Whether ``path`` is no regular file (missing; a pipe or a device, never read here),
    an empty one or one that begins with a JSON object (an earlier run's readings, its first
    line torn or not)."""
    if not path.is_file():
        return True
    with open(path, "rb") as handle:
        start = handle.read(4096)
    # NUL bytes: blocks an SD card lost at a power cut; a byte-order mark from an editor.
    start = start.lstrip(b"\x00").removeprefix(b"\xef\xbb\xbf").lstrip(b"\x00 \t\r\n")
    return not start or start.startswith(b"{")


class JsonlWriter(Closable):
    """Append one JSON object per line to ``path``, or to stdout when ``path`` is None.

    The file's folder must exist (a mistyped path is not created), and a file that holds
    something else (a video, a text) is not appended to."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is None:
            self._stream: IO[str] = sys.stdout
            return
        try:
            if not self.path.parent.is_dir():
                raise DigitKitError(
                    f"cannot open {self.path} for the JSONL output: no folder "
                    f"{self.path.parent} (it is not created)"
                )
            if not _starts_as_json_lines(self.path):
                raise DigitKitError(
                    f"{self.path} holds something other than JSON lines: not appended to; "
                    "give another file for the readings"
                )
            torn = _ends_inside_a_line(self.path)
            self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            # A run cut off mid-line (power loss): the next record starts a line of its own.
            if torn:
                self._stream.write("\n")
        except OSError as exc:
            raise DigitKitError(f"cannot open {self.path} for the JSONL output: {exc}") from exc

    def write(self, record: dict) -> None:
        try:
            self._stream.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._stream.flush()
        except BrokenPipeError:
            raise  # the reader of stdout went away: the caller stops quietly
        except OSError as exc:  # a full disk (an SD card), a failing device
            where = self.path or "stdout"
            raise OutputError(
                f"cannot write the JSONL output to {where}: {exc.strerror or exc}"
            ) from exc

    def close(self) -> None:
        if self.path is not None:
            # What could not be written was reported when it failed.
            with contextlib.suppress(OSError):
                self._stream.close()


def save_snapshot(
    folder: str | Path, index: int, frame: np.ndarray, view: np.ndarray | None
) -> Path:
    """Write the frame (and the annotated view, if any) as PNGs into ``folder``, atomically.

    Returns the path of the frame image; the view goes beside it with ``-overlay`` appended.
    """
    cv2 = require_opencv()
    stem = f"snapshot-{time.strftime('%Y%m%d-%H%M%S')}-{index:06d}"
    target = Path(folder) / f"{stem}.png"
    # A frame that is already gray or 16-bit is kept as it is: PNG stores both losslessly.
    raw = (
        frame if frame.dtype in (np.uint8, np.uint16) and frame.ndim in (2, 3) else as_bgr_u8(frame)
    )
    for image, path in ((raw, target), (view, target.with_name(f"{stem}-overlay.png"))):
        if image is None:
            continue
        ok, encoded = cv2.imencode(".png", image)
        if not ok:
            raise DigitKitError(f"OpenCV could not encode the snapshot {path.name}")
        write_bytes(path, encoded.tobytes())
    return target


class RunSummary:
    """Counts frames, stage times and readings for the end-of-run report."""

    def __init__(self) -> None:
        self.frames = 0
        self.frames_with_digits = 0
        self.numbers: Counter[str] = Counter()
        self.stage_ms: Counter[str] = Counter()
        self.started = time.perf_counter()

    def add(self, reading: FrameReading, timings_ms: dict[str, float]) -> None:
        self.frames += 1
        if reading.digits:
            self.frames_with_digits += 1
            self.numbers[reading.shown] += 1
        self.stage_ms.update(timings_ms)

    def report(self, ending: str, top: int = 5) -> str:
        """Human-readable lines: frames, mean FPS, mean stage times, most common numbers."""
        elapsed = time.perf_counter() - self.started
        fps = self.frames / elapsed if elapsed > 0 else 0.0
        counted = f"{self.frames} frame{'' if self.frames == 1 else 's'}"
        lines = [f"{ending}: {counted} in {elapsed:.1f} s, mean {fps:.1f} FPS"]
        if self.frames:
            stages = ", ".join(f"{k} {v / self.frames:.2f}" for k, v in self.stage_ms.items())
            lines.append(f"mean ms per frame: {stages}")
            common = ", ".join(
                f'"{number}" x{count}' for number, count in self.numbers.most_common(top)
            )
            lines.append(
                f"frames with digits: {self.frames_with_digits}/{self.frames}"
                + (f"; most common numbers: {common}" if common else "")
            )
        return "\n".join(lines)
