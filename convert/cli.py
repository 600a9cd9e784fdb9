"""``digit-convert MODEL.keras --out DIR --formats LIST``: convert, gate, write parity.json.

Exit codes follow ``runtime.cli_common``: 0 every format passed, 1 a format failed the parity
gate (its file is in ``DIR/rejected``), 2 bad input (missing or non-Keras model, missing
dataset, bad flags), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from convert.export import (
    DEFAULT_INT8_INPUT,
    DEFAULT_INT8_OUTPUT,
    FORMATS,
    INT8_INPUT_TYPES,
    INT8_OUTPUT_TYPES,
)
from convert.parity import (
    DEFAULT_MAX_ACCURACY_DROP,
    DEFAULT_MIN_AGREEMENT,
    DEFAULT_TIMING_IMAGES,
    GateThresholds,
)
from convert.representative import DEFAULT_SEED, DEFAULT_SIZE
from convert.source import check_keras_file
from runtime.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    console_script,
    float_in_range,
    int_at_least,
    interruption,
    make_parser,
    output_dir,
    print_error,
    print_note,
    random_seed,
)
from runtime.errors import DigitKitError
from train.data import load_mnist

PROG = "digit-convert"


def _formats(text: str) -> list[str]:
    from convert.pipeline import normalize_formats

    try:
        return normalize_formats(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = make_parser(
        PROG, "Convert a trained .keras digit model to TFLite; gate each file on parity."
    )
    parser.add_argument("model", help="the trained model (.keras)")
    parser.add_argument(
        "--out",
        type=output_dir,
        required=True,
        help="output directory for model_<format>.tflite and parity.json",
    )
    parser.add_argument(
        "--formats",
        type=_formats,
        default="all",
        help=f"comma list from {', '.join(FORMATS)}, or all",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="MNIST directory (default: $DIGIT_KIT_MNIST_DIR, then Keras' cache / download)",
    )
    parser.add_argument(
        "--max-accuracy-drop",
        type=float_in_range(0.0, 100.0),
        default=DEFAULT_MAX_ACCURACY_DROP,
        help="largest accepted accuracy loss vs Keras, in percentage points ",
    )
    parser.add_argument(
        "--min-agreement",
        type=float_in_range(0.0, 100.0),
        default=DEFAULT_MIN_AGREEMENT,
        help="smallest accepted top-1 agreement with Keras, in percent ",
    )
    parser.add_argument(
        "--representative-size",
        type=int_at_least(10, 60_000),
        default=DEFAULT_SIZE,
        help="training images (stratified by class, 10 to 60,000) calibrating int8 ",
    )
    parser.add_argument(
        "--seed", type=random_seed, default=DEFAULT_SEED, help="seed of the representative sample"
    )
    parser.add_argument(
        "--int8-input",
        choices=INT8_INPUT_TYPES,
        default=DEFAULT_INT8_INPUT,
        help="int8 model input type; uint8 takes raw 0..255 pixels ",
    )
    parser.add_argument(
        "--int8-output",
        choices=INT8_OUTPUT_TYPES,
        default=DEFAULT_INT8_OUTPUT,
        help="int8 model output type ",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the conversion of another model in --out (its files and parity.json)",
    )
    parser.add_argument(
        "--timing-images",
        type=int_at_least(0),
        default=DEFAULT_TIMING_IMAGES,
        help="test images timed at batch 1 per format, 0 to skip ",
    )
    return parser


@console_script
def main(argv: Sequence[str] | None = None) -> int:
    """Run the converter; return the exit status."""
    args = build_parser().parse_args(argv)
    # Before TensorFlow is first imported: hides oneDNN/absl start-up noise, as in train.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from convert.pipeline import PARITY_FILE, REJECTED_DIR, convert_model

    try:
        # Before TensorFlow's import (seconds): a wrong model file or --data fails at once.
        check_keras_file(args.model)
        data = load_mnist(args.data)
        report = convert_model(
            args.model,
            args.out,
            formats=args.formats,
            data=data,
            thresholds=GateThresholds(args.max_accuracy_drop, args.min_agreement),
            representative_size=args.representative_size,
            seed=args.seed,
            int8_input=args.int8_input,
            int8_output=args.int8_output,
            timing_images=args.timing_images,
            progress=lambda message: print_note(PROG, message),
            overwrite=args.overwrite,
        )
    except KeyboardInterrupt as exc:
        reason, code = interruption(exc)
        print_error(PROG, f"{reason}; files already published are complete, none is partial")
        return code
    except (DigitKitError, ValueError) as exc:
        print_error(PROG, exc)
        return EXIT_BAD_INPUT
    print(report.format_table())
    print(f"parity report: {os.path.join(args.out, PARITY_FILE)}")
    if not report.passed:
        print_error(
            PROG,
            f"parity gate failed for {', '.join(report.failed_formats)}; "
            f"those files are in {os.path.join(args.out, REJECTED_DIR)}, not published",
        )
        return EXIT_CHECK_FAILED
    return EXIT_OK
