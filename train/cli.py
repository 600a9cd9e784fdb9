"""``digit-train`` / ``python -m train``: fit the MLP with a recipe and write the model and its report.

Exit codes follow ``runtime.cli_common``: 0 trained, 2 bad input (missing or corrupt MNIST, an
existing run in ``--out`` without ``--overwrite``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from runtime.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    console_script,
    int_at_least,
    interruption,
    make_parser,
    output_dir,
    print_error,
    random_seed,
)
from runtime.errors import DigitKitError
from train.recipes import RECIPES

PROG = "digit-train"
# Fewer images leave some digit without two validation examples: the stratified split fails.
MIN_TRAIN_LIMIT = 100
# The files of a finished or partial run: --out holding any of them is an earlier run.
RUN_FILES = ("model.keras", "metrics.json", "confusion_matrix.png", "training_curves.png")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``digit-train``."""
    parser = make_parser(
        PROG,
        "Train the 669,706-parameter MNIST MLP and write model.keras, metrics.json and plots.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="directory with the four MNIST idx files (.gz or raw) or mnist.npz "
        "(default: $DIGIT_KIT_MNIST_DIR, else Keras' cache, downloading if needed)",
    )
    parser.add_argument(
        "--out",
        type=output_dir,
        default="artifacts",  # a string, so that argparse checks it like a given --out
        help="output directory; an earlier run there is kept unless --overwrite is given",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier run in --out")
    parser.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default="default",
        help="seed = the original notebook; default = the kit's recipe (see README)",
    )
    positive = int_at_least(1)
    parser.add_argument(
        "--epochs", type=positive, default=None, help="override the recipe's epochs"
    )
    parser.add_argument(
        "--batch-size", type=positive, default=None, help="override the recipe's batch size"
    )
    parser.add_argument(
        "--seed",
        type=random_seed,
        default=0,
        help="random seed: the same seed gives the same model on the same CPU family and "
        "library versions",
    )
    seed_share = f"{RECIPES['seed'].validation_split:.0%}".replace("%", "%%")  # argparse's %
    parser.add_argument(
        "--train-limit",
        type=int_at_least(MIN_TRAIN_LIMIT),
        default=None,
        metavar="N",
        help="train and validate on the first N of MNIST's 60,000 training images only: the "
        "validation split comes out of these N (the default recipe's is a fifth of them, at "
        f"most {RECIPES['default'].validation_size:,}; the seed recipe's {seed_share}); the test set "
        f"stays all 10,000 (quick experiments; at least {MIN_TRAIN_LIMIT}, so that every digit "
        "has a few in the validation split)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def earlier_run(out: Path) -> list[str]:
    """The run files already in ``out``."""
    return [name for name in RUN_FILES if (out / name).exists()]


@console_script
def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = build_parser().parse_args(argv)
    existing = earlier_run(args.out)
    if existing and not args.overwrite:
        print_error(
            PROG,
            f"{args.out} already holds a run ({', '.join(existing)}); pass --overwrite to "
            "replace it or choose another --out",
        )
        return EXIT_BAD_INPUT
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide oneDNN/absl start-up noise
    try:
        return _train(args)
    except KeyboardInterrupt as exc:
        reason, code = interruption(exc)
        print_error(PROG, f"{reason}; {_left_behind(args.out)}")
        return code
    except DigitKitError as exc:
        print_error(PROG, exc)
        return EXIT_BAD_INPUT


def _left_behind(out: Path) -> str:
    """What an interrupted run left in ``out``, in words."""
    files = earlier_run(out)
    if "metrics.json" in files:
        return f"no run was written; {out} still holds the earlier run"
    if files:
        return f"the run in {out} is incomplete ({', '.join(files)}, no metrics.json): train again"
    return "no run was written"


def _train(args: argparse.Namespace) -> int:
    from train.data import load_mnist

    data = load_mnist(args.data)  # before TensorFlow's import: a bad --data fails at once
    data.first_training(args.train_limit)  # a limit beyond the images fails at once too
    from train.fit import fit
    from train.report import write_report

    recipe = RECIPES[args.recipe].with_overrides(epochs=args.epochs, batch_size=args.batch_size)
    verbose = 0 if args.quiet else ("auto" if sys.stdout.isatty() else 2)
    subset = "" if args.train_limit is None else f"the first {args.train_limit} training images of "
    print(
        f"training recipe '{recipe.name}' for {recipe.epochs} epochs (seed {args.seed}) on "
        f"{subset}{data.source}"
    )
    result = fit(data, recipe, seed=args.seed, verbose=verbose, train_limit=args.train_limit)
    metrics = write_report(result, data, args.out)
    print(
        f"kept: {result.selected_weights}; test accuracy {metrics['test_accuracy']:.4f} "
        f"({metrics['test_errors']} errors) in {metrics['wall_time_s']:.0f} s; wrote "
        f"{args.out}/model.keras, metrics.json, confusion_matrix.png, training_curves.png"
    )
    return EXIT_OK
