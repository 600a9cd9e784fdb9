"""``digit-classify`` / ``python -m runtime``: classify image files with a ``.tflite`` model.

    python -m runtime digit.png photo.jpg --model model_int8.tflite [--json] [--backend numpy]

Images are read as grayscale with OpenCV. A 28x28 file is taken as MNIST form (white on
black); anything else is a photo or scan and goes through ``runtime.preprocess``.
Exit codes follow ``runtime.cli_common``: 0 all images read, 2 bad arguments, model or image
(one line each on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from runtime.backends import BACKEND_NAMES
from runtime.classifier import DigitClassifier
from runtime.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    float_in_range,
    int_at_least,
    make_parser,
    print_error,
)
from runtime.errors import DigitKitError, ImageError
from runtime.images import require_opencv

PROG = "digit-classify"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(PROG, "Read handwritten digits in image files with a TFLite model.")
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    parser.add_argument("--model", required=True, type=Path, help="a .tflite file from convert")
    parser.add_argument(
        "--backend", default="auto", choices=("auto", *BACKEND_NAMES), help="inference backend"
    )
    parser.add_argument(
        "--threshold",
        type=float_in_range(0.0, 1.0),
        default=None,
        help="minimum confidence to accept a digit (default: the model's own threshold)",
    )
    parser.add_argument("--threads", type=int_at_least(1), default=1, help="interpreter threads")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--no-verify", action="store_true", help="do not check the metadata against the weights"
    )
    return parser


def read_image(path: Path) -> np.ndarray:
    """Read an image file as a 2-D uint8 grayscale array; ``ImageError`` if it cannot be read."""
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    cv2 = require_opencv()
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ImageError(f"{path}: not an image file OpenCV can decode")
    return image


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print_error(PROG, "interrupted")
        return EXIT_INTERRUPTED


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
            prediction = classifier.predict(read_image(path))
        except DigitKitError as exc:
            failed = True
            message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            results.append({"image": str(path), "error": message})
            print_error(PROG, message)
            continue
        results.append(
            {
                "image": str(path),
                "digit": prediction.digit,
                "confidence": round(prediction.confidence, 6),
                "accepted": prediction.accepted,
                "probabilities": [round(p, 6) for p in prediction.probabilities],
            }
        )
        if not args.json:
            verdict = "" if prediction.accepted else f"  (rejected: below {classifier.threshold:g})"
            print(f"{path}: {prediction.digit}  confidence {prediction.confidence:.3f}{verdict}")
    if args.json:
        document = {
            "model": str(args.model),
            "backend": classifier.backend_name,
            "threshold": classifier.threshold,
            "results": results,
        }
        print(json.dumps(document, indent=2))
    return EXIT_BAD_INPUT if failed else EXIT_OK
