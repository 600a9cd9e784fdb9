"""``python -m train``: fit the MLP with a recipe and write the model and its evaluation report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from runtime.cli_common import int_at_least
from runtime.errors import DigitKitError
from train.recipes import RECIPES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line of ``python -m train``."""
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Train the 669,706-parameter MNIST MLP and write model.keras, metrics.json and plots.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="directory with the four MNIST idx files (.gz or raw) or mnist.npz "
        "(default: $DIGIT_KIT_MNIST_DIR, else Keras' cache, downloading if needed)",
    )
    parser.add_argument("--out", type=Path, default=Path("artifacts"), help="output directory")
    parser.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default="default",
        help="seed = the original notebook; default = augmentation, schedule, checkpoint",
    )
    positive = int_at_least(1)
    parser.add_argument(
        "--epochs", type=positive, default=None, help="override the recipe's epochs"
    )
    parser.add_argument(
        "--batch-size", type=positive, default=None, help="override the recipe's batch size"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same model)")
    parser.add_argument(
        "--train-limit",
        type=positive,
        default=None,
        help="train on the first N training images only (quick experiments)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide oneDNN/absl start-up noise
    from train.data import load_mnist
    from train.fit import fit
    from train.report import write_report

    try:
        data = load_mnist(args.data)
    except DigitKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    recipe = RECIPES[args.recipe].with_overrides(epochs=args.epochs, batch_size=args.batch_size)
    verbose = 0 if args.quiet else ("auto" if sys.stdout.isatty() else 2)
    print(
        f"training recipe '{recipe.name}' for {recipe.epochs} epochs (seed {args.seed}) on {data.source}"
    )
    result = fit(data, recipe, seed=args.seed, verbose=verbose, train_limit=args.train_limit)
    metrics = write_report(result, data, args.out)
    print(
        f"test accuracy {metrics['test_accuracy']:.4f} ({metrics['test_errors']} errors) "
        f"in {metrics['wall_time_s']:.0f} s; wrote {args.out}/model.keras, metrics.json, "
        "confusion_matrix.png, training_curves.png"
    )
    return 0
