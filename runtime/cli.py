"""``digit-classify`` / ``python -m runtime``: read the handwritten digits in image files.

    python -m runtime page.jpg digit.png --model model_int8.tflite [--json]

Each image is read as numbers: every digit found (``runtime.segment.read_number``) with its
box, lines top to bottom, each left to right; digits apart by a word's gap or on another line
are another number. An image in which no digit is found is taken as one digit filling the
picture (``DigitClassifier.predict``, which prepares any photo the MNIST way); a 28x28 image
is MNIST form already unless its ground is light or ``--polarity dark_on_light`` or
``light_on_dark`` is given (then prepared as a photo). ``--one-digit`` skips the search (the fast
path for crops of single digits). Exit codes follow ``runtime.cli_common``: 0 every image
read, 2 bad arguments, model or image (one line each on stderr), 130 interrupted, 143 stopped
by SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from runtime.backends import BACKEND_NAMES
from runtime.classifier import DigitClassifier, Prediction
from runtime.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    add_min_height_option,
    add_threshold_option,
    console_script,
    interruption,
    make_parser,
    print_error,
    thread_count,
)
from runtime.errors import DigitKitError, ImageError, NoDigitFoundError
from runtime.images import MNIST_SHAPE, as_gray_u8, read_image_file
from runtime.ink import POLARITIES, Polarity
from runtime.segment import MIN_HEIGHT
from runtime.stderr_capture import pass_on_stderr, stderr_caught

PROG = "digit-classify"
# What the decoders print on stderr, from C, about a file they cannot decode: libpng's
# "libpng error: IDAT: CRC error" and OpenCV's own log lines ("[ WARN:0@0.005] ...").
_DECODER_LINE = re.compile(rb"libpng (?:error|warning): |\[ ?(?:INFO|WARN|ERROR)[:\]]")
_LIBPNG_REASON = re.compile(rb"libpng (?:error|warning): (.+)")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(PROG, "Read the handwritten digits in image files with a TFLite model.")
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    parser.add_argument("--model", required=True, type=Path, help="a .tflite file from convert")
    parser.add_argument(
        "--one-digit",
        action="store_true",
        help="take each image as one digit (no search): the fast path for cropped digits",
    )
    parser.add_argument(
        "--polarity",
        choices=POLARITIES,
        default=None,
        help="dark_on_light (pen on paper), light_on_dark (chalk on a board) or auto (guess); "
        "default: dark_on_light for pictures of numbers, auto with --one-digit; a 28x28 "
        "picture is MNIST form (light on dark) unless its ground is light, or dark_on_light or "
        "light_on_dark is given",
    )
    add_min_height_option(parser)
    parser.add_argument(
        "--backend", default="auto", choices=("auto", *BACKEND_NAMES), help="inference backend"
    )
    add_threshold_option(parser)
    parser.add_argument("--threads", type=thread_count, default=1, help="interpreter threads")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document: per image how it was read (read_as: numbers, or one "
        "digit filling the picture), its number, the numbers as written (numbers) and each "
        "digit read (digit, confidence, accepted, box x,y,w,h, probabilities); a picture read "
        "as one digit that is not accepted has no digits but a best_guess, and the number of "
        "candidates judged (or searched_down_to when none was found)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="do not check the metadata against the weights"
    )
    return parser


def read_image(path: Path) -> np.ndarray:
    """Read an image file as a 2-D uint8 grayscale array; ``ImageError`` if it cannot be read,
    with libpng's reason in its one line instead of the decoders' own lines before it."""
    with stderr_caught() as caught:
        try:
            image = read_image_file(path)
        except ImageError as exc:
            failure = exc
        else:
            failure = None
    if failure is None:  # read: whatever a decoder said about the file stays
        pass_on_stderr(caught.data)
        return as_gray_u8(image, str(path))
    lines = caught.data.splitlines(keepends=True)
    reasons = [found[1] for line in lines if (found := _LIBPNG_REASON.match(line))]
    if not reasons:  # nothing to say in its place: the decoders' lines stay
        pass_on_stderr(caught.data)
        raise failure
    pass_on_stderr(b"".join(line for line in lines if not _DECODER_LINE.match(line)))
    reason = reasons[-1].decode(errors="replace").strip()
    raise ImageError(f"{failure} (libpng: {reason})") from failure


def read_file(
    classifier: DigitClassifier,
    path: Path,
    one_digit: bool,
    polarity: Polarity | None = None,
    min_height: float = MIN_HEIGHT,
) -> dict[str, Any]:
    """The reading of one image file as a JSON-ready record (see ``--json``'s help).
    ``polarity``, ``min_height``: see ``--polarity``, ``--min-height``."""
    image = read_image(path)
    if one_digit or image.shape == MNIST_SHAPE:
        return _as_one_digit(classifier, path, image, polarity)
    from runtime.segment import read_number, smallest_searched

    reading = read_number(image, classifier, polarity or "dark_on_light", min_height=min_height)
    if reading.digits:
        digits = [_digit(item.prediction, item.region.box) for item in reading.digits]
        return _record(path, "numbers", list(reading.numbers), digits)
    record = _as_one_digit(classifier, path, image, polarity)
    if not record["digits"]:
        record["candidates"] = reading.candidates  # judged, and none read as a digit
        if not reading.candidates:  # no candidate this tall or taller was found
            smallest = smallest_searched(image.shape, min_height) / image.shape[0]
            record["searched_down_to"] = min(1.0, smallest)  # 6 px of a picture under 6 px tall
    return record


def _as_one_digit(
    classifier: DigitClassifier, path: Path, image: np.ndarray, polarity: Polarity | None
) -> dict[str, Any]:
    """The record of ``image`` read as one digit filling the picture."""
    try:
        if polarity in (None, "auto"):
            # MNIST form unless on a light ground; a photo's polarity guessed, and the
            # classifier settles it.
            prediction = classifier.predict(image)
        else:  # the way round it was told, prepared as any photo (a 28x28 crop's paper is grey)
            from runtime.preprocess import preprocess

            prediction = classifier.predict(preprocess(image, polarity))
    except NoDigitFoundError:  # a blank page is a picture without digits, not bad input
        return _record(path, "one digit", [], [])
    whole = _digit(prediction, (0, 0, image.shape[1], image.shape[0]))
    if prediction.accepted:
        return _record(path, "one digit", [str(prediction.digit)], [whole])
    return {**_record(path, "one digit", [], []), "best_guess": whole}


def _digit(prediction: Prediction, box: Sequence[int]) -> dict[str, Any]:
    return {
        "digit": prediction.digit,
        "confidence": round(prediction.confidence, 6),
        "accepted": prediction.accepted,
        "box": [int(v) for v in box],
        "probabilities": [round(p, 6) for p in prediction.probabilities],
    }


def _record(
    path: Path, read_as: str, numbers: list[str], digits: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "image": str(path),
        "read_as": read_as,
        "number": "".join(numbers),
        "numbers": numbers,
        "digits": digits,
    }


def _line(record: dict[str, Any], bar: Callable[[int], float]) -> str:
    """The text line of one image's reading; ``bar``: the acceptance bar of a digit."""
    digits = record["digits"]
    guess = record.get("best_guess")
    searched, candidates = record.get("searched_down_to"), record.get("candidates")
    if searched is not None:
        not_found = (
            f"none found of at least {searched:.1%} of the picture's height (--min-height, and "
            "at least 6 pixels); "
        )
    elif candidates:
        plural = "s" if candidates > 1 else ""
        not_found = f"{candidates} candidate{plural} found, none read as a digit; "
    else:
        not_found = ""
    if guess is not None:
        return (
            f"{record['image']}: no digit read ({not_found}as one digit it looks most like "
            f"{guess['digit']}, confidence {guess['confidence']:.3f}, "
            f"below {bar(guess['digit']):g})"
        )
    if not digits:
        return f"{record['image']}: no digit read (no ink stands out from the paper)"
    if record["read_as"] == "one digit":
        (digit,) = digits
        return f"{record['image']}: {digit['digit']}  confidence {digit['confidence']:.3f}"
    parts = ", ".join(
        f"{d['digit']} {d['confidence']:.3f}{'' if d['accepted'] else ' (doubted)'} at "
        + ",".join(str(v) for v in d["box"])
        for d in digits
    )
    return f"{record['image']}: {' '.join(record['numbers'])}  ({parts})"


@console_script
def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt as exc:
        reason, code = interruption(exc)
        print_error(PROG, reason)
        return code


def _run(args: argparse.Namespace) -> int:
    try:
        classifier = DigitClassifier(
            args.model,
            backend=args.backend,
            num_threads=args.threads,
            threshold=args.threshold,
            verify_metadata=not args.no_verify,
        )
    except (DigitKitError, ValueError) as exc:
        print_error(PROG, exc)
        return EXIT_BAD_INPUT
    results = []
    failed = False
    for path in args.images:
        try:
            record = read_file(classifier, path, args.one_digit, args.polarity, args.min_height)
        except DigitKitError as exc:
            failed = True
            message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            results.append({"image": str(path), "error": message})
            print_error(PROG, message)
            continue
        results.append(record)
        if not args.json:
            print(_line(record, classifier.acceptance_bar))
    if args.json:
        document = {
            "model": str(args.model),
            "backend": classifier.backend_name,
            "threshold": classifier.threshold,
            "acceptance_bars": [round(classifier.acceptance_bar(d), 6) for d in range(10)],
            "results": results,
        }
        print(json.dumps(document, indent=2))
    return EXIT_BAD_INPUT if failed else EXIT_OK
