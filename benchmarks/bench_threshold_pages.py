"""How the held-out pages that choose a model's acceptance threshold score every threshold.

    python -m benchmarks.bench_threshold_pages --model DIR/model.keras --seed N
        [--pages 300] [--draws 1] [--data DIR] [--json FILE]

Training chooses the threshold (``train/threshold.py``) from the score on held-out pages:
digits read right minus ``FALSE_DIGIT_COST`` x false digits. This reads the same pages (those
of training seed ``--seed``, the same validation split) with a trained model and prints, for
the thresholds where the reading changes, the pages' score, its difference from the best,
and that difference's standard error (paired over pages: each page's score at a threshold
minus its score at the best). Thresholds within one standard error of the best are ones the
pages cannot tell apart: how firmly the pages choose; training keeps the strictest of them
(marked "chosen"). With ``--draws K`` it then reads K - 1 more sets of as many pages (the
pages after the training's, drawn the same way) and prints the threshold each set would have
chosen: how far the choice moves from one draw of pages to the next. The validation split is
the default recipe's on all of MNIST's training images, so a run trained with
``--train-limit`` had other pages.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.bench_reading import add_data, add_json, run_reporting_errors
from benchmarks.machine import describe_machine
from runtime.atomic import write_json
from runtime.cli_common import EXIT_OK, int_at_least, make_parser

PROG = "bench_threshold_pages"


def page_table(readings) -> tuple[str, dict]:
    """The markdown table and a JSON summary of ``readings`` (``train.threshold.PageReadings``)."""
    scores = readings.scores()
    totals = scores.sum(axis=0)
    best, chosen = readings.best(), readings.chosen()
    pages = scores.shape[0]
    errors = readings.standard_errors()
    within = readings.within_one_se()
    lines = [
        "| threshold | digits read right | false digits | score | vs best | standard error | "
        "within one SE |",
        "|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    rows = []
    right, false = readings.right.sum(axis=0), readings.false.sum(axis=0)
    for index, threshold in enumerate(readings.grid):
        changed = index == 0 or (right[index], false[index]) != (right[index - 1], false[index - 1])
        if not changed and index not in (best, chosen):
            continue
        marks = (" (best)" if index == best else "") + (" (chosen)" if index == chosen else "")
        lines.append(
            f"| {float(threshold):.4f}{marks} | {right[index]} | {false[index]} | "
            f"{totals[index]:.0f} | {totals[index] - totals[best]:+.0f} | {errors[index]:.1f} | "
            f"{'yes' if within[index] else ''} |"
        )
        rows.append(
            {
                "threshold": float(threshold),
                "right": int(right[index]),
                "false": int(false[index]),
                "score": float(totals[index]),
                "standard_error": float(errors[index]),
            }
        )
    summary = {
        "pages": pages,
        "written": readings.written,
        "best": float(readings.grid[best]),
        "chosen": readings.chosen_threshold(),
        "within_one_se": _runs(readings.grid, within),
        "rows": rows,
    }
    return "\n".join(lines), summary


def _runs(grid: np.ndarray, flags: np.ndarray) -> list[list[float]]:
    """The [first, last] thresholds of each run of consecutive flagged grid points."""
    runs: list[list[float]] = []
    for index in np.flatnonzero(flags):
        if runs and flags[index - 1]:
            runs[-1][1] = float(grid[index])
        else:
            runs.append([float(grid[index]), float(grid[index])])
    return runs


def run(args: argparse.Namespace) -> int:
    from convert.source import load_keras_model
    from train.data import load_mnist
    from train.fit import validation_holdout
    from train.recipes import DEFAULT
    from train.threshold import PAGE_SEED_OFFSET, read_threshold_pages

    started = time.perf_counter()
    model = load_keras_model(args.model)
    data = load_mnist(args.data)
    _, x_val, _, y_val = validation_holdout(data.x_train, data.y_train, DEFAULT, args.seed)
    page_seed = args.seed + PAGE_SEED_OFFSET
    readings = read_threshold_pages(model, args.pages, page_seed, x_val, y_val)
    table, summary = page_table(readings)
    print(f"Machine: {describe_machine()}")
    print(f"Model: {args.model}; pages of training seed {args.seed}: {args.pages}")
    print(f"Pages hold {readings.written} written digits\n")
    print(table)
    runs = ", ".join(f"{low:.4f}-{high:.4f}" for low, high in summary["within_one_se"])
    print(f"\nBest: {summary['best']:.4f}; within one standard error of it: {runs}")
    print(f"Chosen (the strictest within one standard error): {summary['chosen']:.4f}")
    if args.draws > 1:
        summary["draws"] = [{"first_page": 0, "best": summary["best"], "chosen": summary["chosen"]}]
        for draw in range(1, args.draws):
            first = draw * args.pages
            more = read_threshold_pages(model, args.pages, page_seed, x_val, y_val, first)
            summary["draws"].append(
                {
                    "first_page": first,
                    "best": float(more.grid[more.best()]),
                    "chosen": more.chosen_threshold(),
                }
            )
        print("\n| pages | best | chosen |\n|---|---:|---:|")
        for entry in summary["draws"]:
            pages = f"{entry['first_page']}-{entry['first_page'] + args.pages - 1}"
            print(f"| {pages} | {entry['best']:.4f} | {entry['chosen']:.4f} |")
    print(f"\nTime: {time.perf_counter() - started:.1f} s")
    if args.json:
        write_json(args.json, summary)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    from train.recipes import DEFAULT

    parser = make_parser(f"python -m benchmarks.{PROG}", __doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, metavar="FILE", help="model.keras")
    parser.add_argument(
        "--seed", type=int_at_least(0), default=0, help="the seed the model was trained with"
    )
    parser.add_argument(
        "--pages",
        type=int_at_least(1),
        default=DEFAULT.threshold_pages,
        metavar="N",
        help="how many held-out pages to read (training reads the default recipe's number)",
    )
    parser.add_argument(
        "--draws",
        type=int_at_least(1),
        default=1,
        metavar="K",
        help="read K sets of --pages pages and print each set's choice",
    )
    add_data(parser)
    add_json(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors(PROG, lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
