"""Stopping the demo from a signal, at once, whatever it is doing.

A Python signal handler runs between two bytecodes of the main thread, so raising from it
lands inside whatever code happens to run (a frame read's retry loop took it for a read
failure). Here the handler only records the request, which a relay thread then sets on a
``StopRequest``; every wait of the demo (frame reads, retry back-off, pacing) waits on that
event and ends as soon as it is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from runtime.cli_common import EXIT_INTERRUPTED, EXIT_OK

T = TypeVar("T")


class StopRequested(Exception):
    """Raised by a wait that ended because a stop was requested."""


class StopRequest(threading.Event):
    """An event set once a stop is requested, with why (``reason``) and the exit code it asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""
        self.exit_code = EXIT_OK
        self._recorded = False

    def request(self, reason: str, exit_code: int = EXIT_OK) -> None:
        """Ask everything to stop; the first request's reason and exit code are kept."""
        self.record(reason, exit_code)
        self.set()

    def record(self, reason: str, exit_code: int = EXIT_OK) -> None:
        """Record a stop without taking a lock (all a signal handler may do): ``is_set`` and
        ``check`` see it at once; waiters wake when ``set`` is called."""
        if not self._recorded:
            self._recorded = True
            self.reason, self.exit_code = reason, exit_code

    def is_set(self) -> bool:
        return self._recorded or super().is_set()

    def check(self) -> None:
        """Raise ``StopRequested`` if a stop was requested."""
        if self.is_set():
            raise StopRequested(self.reason)


_SIGNAL_REASONS = {
    signal.SIGTERM: ("stopped by SIGTERM", EXIT_OK),
    signal.SIGINT: ("interrupted", EXIT_INTERRUPTED),
}
if hasattr(signal, "SIGHUP"):  # the terminal or SSH session it ran in closed (not on Windows)
    _SIGNAL_REASONS[signal.SIGHUP] = ("stopped by SIGHUP", EXIT_OK)


# A stop that the main thread has not finished this long after the signal is forced: it is
# blocked where no stop can reach it (a write to a pipe whose reader stopped reading).
FORCED_EXIT_AFTER_S = 3.0

log = logging.getLogger("camera_demo")


class _SignalRelay:
    """Wakes the waiters of ``target`` for a signal handler, from a thread of its own.

    The handler may run inside the main thread's own ``target.wait()``, which holds the
    event's lock on its way in and out: setting the event from there would wait on that lock
    forever (seen with ``--max-fps`` pacing). So the handler takes no lock: it records the
    stop (``StopRequest.record``) and writes a byte to a socket, and this thread sets the event.
    """

    def __init__(self, target: StopRequest) -> None:
        self.target = target
        self._wake, self._listen = socket.socketpair()
        self._wake.setblocking(False)
        self._forced_exit: threading.Timer | None = None
        self._thread = threading.Thread(target=self._relay, name="stop-signal-relay", daemon=True)
        self._thread.start()

    def forward(self, reason: str, exit_code: int) -> None:
        """Called by the signal handler: no locks, no waiting."""
        self.target.record(reason, exit_code)
        self._send(b"s")

    def close(self) -> None:
        """Deliver what is pending and end the thread (and the forced exit's timer)."""
        if self._forced_exit is not None:
            self._forced_exit.cancel()
        self._send(b"q")
        self._thread.join(timeout=1.0)
        self._wake.close()
        self._listen.close()

    def _send(self, byte: bytes) -> None:
        with contextlib.suppress(OSError):  # a full buffer already holds a wake-up
            self._wake.send(byte)

    def _relay(self) -> None:
        while True:
            data = self._listen.recv(64)
            if not data or b"q" in data:
                return
            if self.target.is_set():
                self.target.set()
                if self._forced_exit is None:
                    self._forced_exit = threading.Timer(FORCED_EXIT_AFTER_S, self._force_exit)
                    self._forced_exit.daemon = True
                    self._forced_exit.start()

    def _force_exit(self) -> None:
        log.error(
            "%s, but the demo did not stop within %g s (blocked writing its output to a reader "
            "that stopped reading?): ending it now, without its summary",
            self.target.reason,
            FORCED_EXIT_AFTER_S,
        )
        # Not end_process: flushing stdout would block on the very write that holds the demo.
        os._exit(self.target.exit_code)


_relay: _SignalRelay | None = None


def handle_stop_signal(signum: int, frame: object) -> None:
    """The SIGTERM/SIGINT/SIGHUP handler: records the stop; a second Ctrl-C interrupts at once."""
    relay = _relay
    if relay is None:
        return
    if signum == signal.SIGINT and relay.target.is_set():
        raise KeyboardInterrupt  # the user insists
    reason, code = _SIGNAL_REASONS.get(signum, (f"stopped by signal {signum}", EXIT_OK))
    relay.forward(reason, code)


@contextlib.contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """Route SIGTERM, SIGINT and SIGHUP to ``stop`` while the block runs (set within moments, by a
    relay thread); restore the previous handlers. A signal ignored when the block starts stays
    ignored: ``nohup`` ignores SIGHUP, and a shell ignores SIGINT for a script's background jobs.

    Outside the main thread (signal handlers can only be set there) it does nothing.
    """
    global _relay
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    outer, relay = _relay, _SignalRelay(stop)
    # None: a handler set from C, which could not be put back.
    kept = {
        signum for signum in _SIGNAL_REASONS if signal.getsignal(signum) in (signal.SIG_IGN, None)
    }
    if signal.SIGTERM in kept:
        log.warning("SIGTERM is ignored in this process (as it was started): it does not stop it")
    previous = {
        signum: signal.signal(signum, handle_stop_signal)
        for signum in _SIGNAL_REASONS
        if signum not in kept
    }
    _relay = relay
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _relay = outer
        relay.close()


def call_unless_stopped(
    function: Callable[[], T], stop: StopRequest, name: str, poll: float = 0.05
) -> T:
    """Run ``function`` in a daemon thread and return its result, or raise its exception.

    Raises ``StopRequested`` as soon as ``stop`` is set, leaving a call that blocks (opening a
    stream whose server does not answer) behind in its thread.
    """
    outcome: list = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    while not done.wait(poll):
        stop.check()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def end_process(code: int) -> int:
    """``code``, for the process to exit with; if threads are left behind (a frame read
    blocked in FFmpeg, a viewer's connection, a stream being opened), the process ends here
    at once with ``code`` instead.

    Python's teardown would run while those threads may be inside OpenCV or FFmpeg, or
    writing to stderr, and can then abort the process (seen once as exit -6 after SIGTERM,
    which systemd reports as a crash). The demo has closed and flushed every output by now.
    """
    if threading.active_count() == 1:
        return code
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
