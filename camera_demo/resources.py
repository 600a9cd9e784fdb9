"""The demo's resources (sources, writers, the window, the web server, the MQTT publisher) as
context managers: ``with`` starts one and always closes it."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closable:
    """``with resource:`` calls ``start()`` (a no-op unless overridden) and, however the block
    ends, ``close()``."""

    def start(self) -> Self:
        """Begin using the resource; returns it."""
        return self

    def close(self) -> None:
        """Release the resource."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
