"""How the reading of frames changes with the acceptance threshold, from one reading per frame.

    python -m benchmarks.bench_thresholds --model A.tflite [B.tflite ...] [--split tune]
        [--thresholds 0.95 0.97 ...] [--without RULE ...] [--data DIR] [--limit N]
        [--json FILE]

Each frame of the frame corpora (``fonts-numbers``, ``fonts-notes``, ``camera``,
``digit-free``) is searched
once (``runtime.segment.FrameCandidates``) and its candidates classified once per model;
then every threshold of the grid is applied to those probabilities with the reader's own
choice (``FrameCandidates.choose``, the acceptance rule ``runtime.classifier.accepts``). At
a model's own threshold this is exactly what ``bench_reading`` reads, in a fraction of the
time for a whole grid: the tool for studying how a threshold should be chosen, and, with
``--without``, what each reading rule buys on the tune split, where the rules are chosen.

Per threshold: per-digit accuracy and exact-number rate of the three corpora with digits,
false digits per digit-free frame (all, and on handwritten words), and the score the
training's threshold choice maximises (``train.threshold``): digits read right minus
``FALSE_DIGIT_COST`` x (misread + extra + false digits), counted as read ("as counted") and
with the digit-free frames weighted to the report split's share ("report-weighted"; the
tune split holds five times as many digit-free frames as the report split).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from benchmarks.bench_reading import (
    FRAME_CORPORA_WITH_DIGITS,
    add_data_and_backend,
    add_json,
    add_limit,
    add_without,
    corpora_sources,
    rules_off,
    run_reporting_errors,
)
from benchmarks.corpora import CORPORA, SPLITS, Item, Sources, generate, report
from benchmarks.corpora.scoring import Outcome, ReadDigit, Reading, score, summarize
from benchmarks.machine import describe_machine
from runtime import DigitClassifier
from runtime.atomic import write_json
from runtime.classifier import accepts
from runtime.cli_common import EXIT_OK, make_parser
from runtime.segment import FrameCandidates
from train.threshold import FALSE_DIGIT_COST

PROG = "bench_thresholds"
WITH_DIGITS = FRAME_CORPORA_WITH_DIGITS
CORPUS_NAMES = (*WITH_DIGITS, "digit-free")
DEFAULT_GRID = (0.9, 0.95, 0.97, 0.98, 0.985, 0.99, 0.9925, 0.995, 0.9975)


@dataclass
class _Frame:
    item: Item  # without its image
    candidates: FrameCandidates
    probabilities: dict[str, np.ndarray]  # per model


def read_once(
    split: str,
    limit: int | None,
    sources: Sources,
    classifiers: dict[str, DigitClassifier],
    names: Sequence[str] = CORPUS_NAMES,
) -> dict[str, list[_Frame]]:
    """Every frame of the frame corpora ``names`` searched once and classified once per model."""
    frames: dict[str, list[_Frame]] = {}
    for name in names:
        frames[name] = []
        for item in generate(name, split, limit, sources):
            candidates = FrameCandidates(item.image, min_height=item.min_height)
            crops = [region.image for region in candidates.regions]
            probabilities = {
                model: (
                    np.asarray(classifier.predict_proba(np.stack(crops)), np.float32)
                    if crops
                    else np.zeros((0, 10), np.float32)
                )
                for model, classifier in classifiers.items()
            }
            frames[name].append(_Frame(item.without_image(), candidates, probabilities))
    return frames


def outcomes_at(frames: list[_Frame], model: str, threshold: float) -> list[Outcome]:
    """The frames' outcomes when ``model`` reads at ``threshold``."""
    rule = partial(accepts, threshold=threshold)
    outcomes = []
    for frame in frames:
        probabilities = frame.probabilities[model]
        chosen = frame.candidates.choose(probabilities, rule) if len(probabilities) else []
        digits = tuple(
            ReadDigit(tuple(int(v) for v in region.box), int(row.argmax()), float(row.max()), True)
            for region, row in chosen
        )
        reading = Reading("".join(str(digit.digit) for digit in digits), digits)
        outcomes.append(score(frame.item, reading, 0.0))
    return outcomes


def grid_row(
    frames: dict[str, list[_Frame]], model: str, threshold: float, digit_free_weight: float
) -> dict[str, float]:
    """One threshold's results for one model."""
    row: dict[str, float] = {"threshold": threshold}
    right = bad = 0
    for name in WITH_DIGITS:
        outcomes = outcomes_at(frames[name], model, threshold)
        summary = summarize(name, None, outcomes)
        errors = report.frame_errors(name, outcomes)[0]
        row[f"{name} per digit"] = float(summary.per_digit or 0.0)
        row[f"{name} exact"] = float(summary.exact or 0.0)
        right += int(errors["right"])
        bad += int(errors["misread"]) + int(errors["extra"])
    outcomes = outcomes_at(frames["digit-free"], model, threshold)
    false = sum(len(outcome.read) for outcome in outcomes)
    words = [o for o in outcomes if dict(o.item.tags).get("kind") == "words"]
    row["digit-free false / frame"] = false / max(1, len(outcomes))
    row["words false / frame"] = sum(len(o.read) for o in words) / max(1, len(words))
    row["objective as counted"] = right - FALSE_DIGIT_COST * (bad + false)
    row["objective report-weighted"] = right - FALSE_DIGIT_COST * (bad + digit_free_weight * false)
    return row


def digit_free_weight(counts: dict[str, int]) -> float:
    """The weight that gives digit-free frames the share they have in the report split."""
    report_share = CORPORA["digit-free"].size / sum(CORPORA[name].size for name in WITH_DIGITS)
    share = counts["digit-free"] / max(1, sum(counts[name] for name in WITH_DIGITS))
    return report_share / share if share else 1.0


def table(model: str, own: float, rows: Sequence[dict[str, float]]) -> str:
    """One model's grid, markdown; its own threshold and each objective's best marked."""
    best = {
        key: max(rows, key=lambda r: r[key])["threshold"]
        for key in ("objective as counted", "objective report-weighted")
    }
    keys = [key for key in rows[0] if key != "threshold"]
    lines = [
        f"Model {model} (own threshold {own})\n",
        "| threshold | " + " | ".join(keys) + " |",
        "|---:|" + "---:|" * len(keys),
    ]
    for row in rows:
        marks = (" (own)" if row["threshold"] == own else "") + "".join(
            f" (best {key.removeprefix('objective ')})"
            for key, value in best.items()
            if value == row["threshold"]
        )
        cells = []
        for key in keys:
            value = row[key]
            if "objective" in key:
                cells.append(f"{value:.0f}")
            elif "false" in key:
                cells.append(f"{value:.3f}")
            else:
                cells.append(f"{100 * value:.2f}%")
        lines.append(f"| {row['threshold']:g}{marks} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import cv2

    sources = corpora_sources(args.data, CORPUS_NAMES)
    classifiers = {
        model: DigitClassifier(model, backend=args.backend, num_threads=1) for model in args.model
    }
    start = time.perf_counter()
    frames = read_once(args.split, args.limit, sources, classifiers)
    weight = digit_free_weight({name: len(items) for name, items in frames.items()})
    print(f"# Reading at a grid of thresholds, split {args.split}\n")
    print(f"Machine: {describe_machine()}; OpenCV {cv2.__version__}, 1 thread")
    if args.without:
        print(f"Reading rules off: {', '.join(args.without)}")
    counts = ", ".join(f"{name} {len(items)}" for name, items in frames.items())
    print(f"Frames: {counts}; report-weighted counts digit-free false digits x{weight:.3g}\n")
    results = {}
    for model, classifier in classifiers.items():
        grid = sorted({*args.thresholds, classifier.threshold})
        rows = [grid_row(frames, model, threshold, weight) for threshold in grid]
        results[model] = {"own_threshold": classifier.threshold, "rows": rows}
        print(table(model, classifier.threshold, rows) + "\n")
    print(f"Time: {time.perf_counter() - start:.1f} s")
    if args.json is not None:
        write_json(
            args.json,
            {"split": args.split, "rules_off": list(args.without), "models": results},
        )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = make_parser(f"python -m benchmarks.{PROG}", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", required=True, nargs="+", metavar="FILE", help="one or more .tflite models"
    )
    parser.add_argument("--split", choices=SPLITS, default="tune", help="which split to read")
    parser.add_argument(
        "--thresholds",
        nargs="+",
        type=float,
        default=list(DEFAULT_GRID),
        metavar="P",
        help="the grid (each model's own threshold is always added)",
    )
    add_without(parser)
    add_data_and_backend(parser)
    add_limit(parser)
    add_json(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if any(not 0.0 < t < 1.0 for t in args.thresholds):
        parser.error("--thresholds: every threshold must lie between 0 and 1")
    with rules_off(args.without):
        return run_reporting_errors(PROG, lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
