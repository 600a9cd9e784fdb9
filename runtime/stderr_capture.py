"""Catch what C libraries write straight to file descriptor 2 (libpng's lines, LiteRT's
delegate notice): no Python switch silences them, so the descriptor itself is pointed at a
temporary file for a block and pointed back after it. One lock for the whole process: two
captures in two threads would restore the descriptor in the wrong order."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass

_lock = threading.RLock()


@dataclass
class CaughtStderr:
    """What :func:`stderr_caught` caught on file descriptor 2 (set when its block ends)."""

    data: bytes = b""


def flush_stderr() -> None:
    """Flush Python's ``sys.stderr`` (when there is one) before the descriptor changes."""
    if sys.stderr is None:  # descriptor 2 closed at start, or pythonw
        return
    with suppress(OSError, ValueError):  # closed since
        sys.stderr.flush()


@contextmanager
def stderr_caught() -> Iterator[CaughtStderr]:
    """Catch what the block writes to file descriptor 2, for the caller to pass on what it
    keeps with :func:`pass_on_stderr`. A block that raises has all of it passed on as it was.
    Without a descriptor 2 or a temporary folder nothing is caught. The descriptor is pointed
    back however the block ends, an interrupt while it is pointed back included."""
    caught = CaughtStderr()
    with _lock, ExitStack() as cleanup:
        flush_stderr()
        try:
            saved = os.dup(2)
            cleanup.callback(os.close, saved)
            scratch = cleanup.enter_context(tempfile.TemporaryFile())
        except OSError:  # no descriptor 2, or no temporary folder
            yield caught
            return
        finished = False
        try:
            os.dup2(scratch.fileno(), 2)
            yield caught
            finished = True
        finally:
            try:
                flush_stderr()
            finally:
                os.dup2(saved, 2)  # first of all, and harmless when the redirect never happened
            scratch.seek(0)
            caught.data = scratch.read()
            if not finished:
                pass_on_stderr(caught.data)


def pass_on_stderr(data: bytes) -> None:
    """Write ``data`` to file descriptor 2, as a library writing there would have."""
    flush_stderr()
    view = memoryview(data)
    with suppress(OSError):  # stderr gone: nothing to tell it
        while view:
            view = view[os.write(2, view) :]
