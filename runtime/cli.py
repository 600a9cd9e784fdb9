"""``digit-classify`` / ``python -m runtime``: classify image files with a ``.tflite`` model.

    python -m runtime digit.png photo.jpg --model model_int8.tflite [--json] [--backend numpy]

Images are read as grayscale with OpenCV. A 28x28 file is taken as MNIST form (white on
black); anything else is a photo or scan and goes through ``runtime.preprocess``.
Exit codes: 0 all images classified, 2 bad arguments, model or image (one line each on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from runtime.backends import BACKEND_NAMES
from runtime.classifier import DEFAULT_THRESHOLD, DigitClassifier
from runtime.errors import DigitKitError, ImageError

EXIT_OK = 0
EXIT_ERROR = 2
PROG = "digit-classify"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Classify handwritten digits in image files with a TFLite model."
    )
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    parser.add_argument("--model", required=True, type=Path, help="a .tflite file from convert")
    parser.add_argument(
        "--backend", default="auto", choices=("auto", *BACKEND_NAMES), help="inference backend"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help=f"minimum confidence to accept (default {DEFAULT_THRESHOLD:g})",
    )
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--no-verify", action="store_true", help="do not check the metadata against the weights"
    )
    return parser


def read_image(path: Path) -> np.ndarray:
    """Read an image file as a 2-D uint8 grayscale array; ``ImageError`` if it cannot be read."""
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        import cv2
    except ImportError as exc:
        raise DigitKitError(
            "reading image files needs OpenCV: pip install 'digit-kit[camera]'"
        ) from exc
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ImageError(f"{path}: not an image file OpenCV can decode")
    return image


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        classifier = DigitClassifier(
            args.model,
            backend=args.backend,
            num_threads=args.threads,
            threshold=args.threshold,
            verify_metadata=not args.no_verify,
        )
    except (DigitKitError, ValueError) as exc:
        _error(str(exc))
        return EXIT_ERROR
    results = []
    failed = False
    for path in args.images:
        try:
            prediction = classifier.predict(read_image(path))
        except DigitKitError as exc:
            failed = True
            message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            results.append({"image": str(path), "error": message})
            _error(message)
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
    return EXIT_ERROR if failed else EXIT_OK


def _error(message: str) -> None:
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"{PROG}: error: {first_line}", file=sys.stderr)
