"""Atomic file writes: a temporary file in the same directory, fsync, then rename.

An interrupted run never leaves a truncated artifact under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(final_path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``final_path``; on success rename it into place.

    Use for writers that need a file name (Keras ``model.save``, matplotlib ``savefig``).
    ``suffix`` keeps the extension some writers insist on (``.keras``, ``.png``).
    """
    final = Path(final_path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=f".tmp{suffix}", dir=final.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        tmp.chmod(0o666 & ~_current_umask())  # mkstemp makes 0600; artifacts are for sharing
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(final_path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``final_path`` atomically and return the path."""
    with atomic_path(final_path) as tmp:
        tmp.write_bytes(data)
    return Path(final_path)


def write_text(final_path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``final_path`` atomically and return the path."""
    return write_bytes(final_path, text.encode("utf-8"))


def write_json(
    final_path: str | os.PathLike[str], obj: Any, default: Callable[[Any], Any] | None = None
) -> Path:
    """Write ``obj`` as indented JSON to ``final_path`` atomically and return the path."""
    return write_text(
        final_path, json.dumps(obj, indent=2, sort_keys=False, default=default) + "\n"
    )
