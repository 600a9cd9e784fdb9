"""The one convention of the kit's console scripts, and their shared argparse value types.

Every command (``digit-train``, ``digit-convert``, ``digit-classify``, ``digit-camera``,
``digit-sample-video``) exits with:

====  =================================================================================
code  meaning
====  =================================================================================
0     success
1     a check failed (the parity gate rejected a format)
2     bad input or usage: unknown flag, missing or malformed file, bad model, bad image; an
      output that cannot be written (a full disk)
130   interrupted (Ctrl-C / SIGINT)
141   the output's reader went away (``| head``): stopped quietly, as a shell reports SIGPIPE
143   stopped by SIGTERM before it finished (the camera demo, which runs until stopped,
      ends a run stopped by SIGTERM as any other: 0)
====  =================================================================================

SIGTERM stops a command as Ctrl-C does: its temporary files removed, one line said.

Errors are one line on stderr, ``<prog>: error: <message>`` (argparse's own usage errors
have the same form), and ``--help`` shows every option's default.
"""

from __future__ import annotations

import argparse
import errno
import functools
import importlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_OUTPUT_CLOSED = 141  # 128 + SIGPIPE
EXIT_TERMINATED = 143  # 128 + SIGTERM
# An output that cannot take what is written to it: a full disk or quota, a failing device.
_WRITE_FAILURES = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``systemctl stop``), raised where the program runs, as Ctrl-C raises
    ``KeyboardInterrupt``: what cleans up after Ctrl-C cleans up after it too."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def interruption(exc: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped the program, in words, and the exit code for it: SIGTERM or Ctrl-C."""
    if isinstance(exc, Terminated):
        return "stopped by SIGTERM", EXIT_TERMINATED
    return "interrupted", EXIT_INTERRUPTED


def console_script(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a console script's ``main`` (its module names the program in ``PROG``): when the
    reader of its output goes away (``| head``), it stops without a traceback and returns
    ``EXIT_OUTPUT_CLOSED``; when its output cannot be written (stdout on a full disk), it says
    so in one line and returns ``EXIT_BAD_INPUT``."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        _discard_closed_streams()
        _escape_what_stdout_cannot_encode()
        prog = getattr(sys.modules[main.__module__], "PROG", main.__module__)
        on_main_thread = threading.current_thread() is threading.main_thread()
        if on_main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            code = main(*args, **kwargs)
            sys.stdout.flush()
            return code
        except BrokenPipeError:
            silence_stdout()
            return EXIT_OUTPUT_CLOSED
        except KeyboardInterrupt as exc:  # before the script's own handling began (loading)
            reason, code = interruption(exc)
            print_error(prog, reason)
            return code
        except OSError as exc:  # what the script did not expect: one line, not a traceback
            if exc.filename is None and exc.errno in _WRITE_FAILURES:
                silence_stdout()
                message = f"cannot write the output: {exc.strerror}"
            else:
                where = f"{exc.filename}: " if exc.filename is not None else ""
                message = f"{where}{exc.strerror or exc}"
            print_error(prog, message)
            return EXIT_BAD_INPUT
        finally:
            if on_main_thread and signal.getsignal(signal.SIGTERM) is _raise_terminated:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return wrapper


def run_module_main(module: str, function: str = "main") -> None:
    """``python -m PACKAGE``: import ``module`` and exit with what its ``function`` returns;
    a Ctrl-C while its libraries load exits 130 without a traceback, as one later does."""
    try:
        main = getattr(importlib.import_module(module), function)
    except KeyboardInterrupt:
        print_error(f"python -m {module.partition('.')[0]}", "interrupted")
        raise SystemExit(EXIT_INTERRUPTED) from None
    raise SystemExit(main())


def _discard_closed_streams() -> None:
    """A program started with stdout or stderr closed (``>&-``, some service managers) has
    ``None`` for them in Python: what it writes there is discarded, as with ``>/dev/null``,
    instead of failing on the first write."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - open for the process's lifetime
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115


def _escape_what_stdout_cannot_encode() -> None:
    """A file name stdout's encoding cannot spell (``PYTHONIOENCODING=ascii``, a Latin-1
    terminal, a name that is not UTF-8) is written with backslash escapes, as stderr writes
    it, instead of failing the program with a traceback."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None and getattr(sys.stdout, "errors", None) == "strict":
        reconfigure(errors="backslashreplace")


def silence_stdout() -> None:
    """Point stdout at the null device once its reader has gone away, so that Python's final
    flush does not fail again with a warning."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends each option's default to its help (unless the help already says it, or there is
    none to show) and keeps the description's own line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = action.option_strings and not (
            default is None or default is False or default == argparse.SUPPRESS
        )
        if shown and "(default" not in text:
            text += " (default: %(default)s)"
        return text


def make_parser(prog: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` following the convention: the console script's name, defaults shown."""
    return argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=_HelpFormatter
    )


def print_error(prog: str, message: object) -> None:
    """Print ``<prog>: error: <first line of message>`` on stderr."""
    text = str(message).strip()
    first_line = text.splitlines()[0] if text else "unknown error"
    print(f"{prog}: error: {first_line}", file=sys.stderr, flush=True)


def print_note(prog: str, message: str) -> None:
    """Print a progress or status line ``<prog>: <message>`` on stderr."""
    print(f"{prog}: {message}", file=sys.stderr, flush=True)


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type for integers no smaller than ``minimum`` (and, if given, no larger
    than ``maximum``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"{minimum} to {maximum:,}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


# NumPy's and scikit-learn's seeds are 32-bit unsigned integers.
random_seed = int_at_least(0, 2**32 - 1)


def thread_count(text: str) -> int:
    """An argparse type for ``--threads``: at least 1; more than the CPUs available are capped
    to them (``max_threads``), as ``DigitClassifier`` does, so that a command written for a
    bigger device still starts on a smaller one."""
    from runtime.backends import max_threads

    return min(int_at_least(1)(text), max_threads())


def output_dir(text: str) -> Path:
    """An argparse type for a folder a command writes into (made when the command writes):
    tried now, so that a long run does not fail only at its end."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the folder is empty: name one (. for this folder)")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    _try_writing_in(path)
    return path


def output_file(text: str) -> Path:
    """An argparse type for a file a command writes at its end: its folder tried now."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the file name is empty")
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    _try_writing_in(path.parent)
    return path


def _try_writing_in(folder: Path) -> None:
    """Write and remove a file in ``folder``, or in the nearest folder above it that exists
    (the command makes the rest): nothing is left behind."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{str(existing)!r} is a file")
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"cannot write into {str(folder)!r}: {exc.strerror or exc}"
        ) from None


def float_in_range(low: float, high: float) -> Callable[[str], float]:
    """An argparse type for numbers within ``low..high`` (inclusive)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number in {low:g}..{high:g}, got {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must lie within {low:g}..{high:g}, got {value:g}")
        return value

    return parse


def add_threshold_option(parser: argparse.ArgumentParser, metavar: str | None = None) -> None:
    """``--threshold``, as every program that reads digits takes it (the kit's acceptance rule)."""
    from runtime.classifier import STROKE_ODDS

    parser.add_argument(
        "--threshold",
        type=float_in_range(0.0, 1.0),
        metavar=metavar,
        default=None,
        help=f"confidence from which a digit is accepted, a 1 from the confidence {STROKE_ODDS:g} "
        "times as sure in odds (default: the model's own threshold)",
    )


def add_min_height_option(
    parser: argparse.ArgumentParser, what: str = "picture", note: str = ""
) -> None:
    """``--min-height``, as every program that searches pictures for digits takes it;
    ``note`` ends its help."""
    from runtime.segment import MIN_HEIGHT

    lowest, highest = 0.005, 0.5
    parser.add_argument(
        "--min-height",
        type=float_in_range(lowest, highest),
        default=MIN_HEIGHT,
        metavar="FRACTION",
        help=f"the smallest digit searched for, as a fraction of the {what}'s height, {lowest:g} "
        f"to {highest:g} (and at least 6 pixels); lower it for a whole page photographed from afar (0.01: digits 1%% of "
        f"its height); the lower, the finer and slower the search{note}",
    )


def frame_size(minimum: int = 1, maximum: int = 8192) -> Callable[[str], tuple[int, int]]:
    """An argparse type for ``WIDTHxHEIGHT`` frame sizes, each side ``minimum``..``maximum``
    (8192 by default: beyond 8K video, and what video encoders take)."""

    def parse(text: str) -> tuple[int, int]:
        try:
            width, height = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected WIDTHxHEIGHT such as 640x480, got {text!r}"
            ) from None
        if width < minimum or height < minimum:
            raise argparse.ArgumentTypeError(
                f"frame size {text} is too small (at least {minimum}x{minimum})"
            )
        if width > maximum or height > maximum:
            raise argparse.ArgumentTypeError(
                f"frame size {text} is too large (at most {maximum}x{maximum})"
            )
        return width, height

    return parse
