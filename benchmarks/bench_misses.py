"""Why the reader misses the written digits it misses, from one reading per frame.

    python -m benchmarks.bench_misses --model A.tflite [--split tune] [--corpus NAME ...]
        [--threshold P] [--data DIR] [--limit N] [--json FILE]

Each frame of ``fonts-numbers``, ``fonts-notes`` and ``camera`` (``--corpus``: these, or
``fonts-pages``) is searched and classified once
(``bench_thresholds.read_once``) and read at the model's threshold. A written digit is
missed when no digit read lies on it (``scoring.breakdown``'s ``missed``); its cause is the
first of these that holds:

- ``word rule``: read with the word rule off (``bench_reading.RULES``), it is read: a piece
  of its number that the model takes for no digit made the number a word;
- ``never proposed``: no candidate of the finder fits its box (intersection over union
  under ``FIT``);
- ``taken for another digit``: no candidate that fits predicts the written digit;
- ``taken for no digit``: the best fitting candidate of the written digit is under the
  reader's ``_NOT_A_DIGIT``;
- ``a 1 under the stroke bar``: a 1 at the threshold or more but under the 1's stricter bar;
- ``doubted``: under the threshold, with no number to vouch for it (clear digits beside it, or
  other doubted digits of a doubted number);
- ``choice``: a fitting candidate is accepted, but the line's reading chose other candidates
  (a join with a neighbour, another cut).

The table this prints is for choosing what to work on, on the tune split; the report split
is read once per model, by ``bench_reading``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial

from benchmarks.bench_reading import (
    ALL_FRAME_CORPORA_WITH_DIGITS,
    FRAME_CORPORA_WITH_DIGITS,
    add_data_and_backend,
    add_json,
    add_limit,
    add_threshold,
    corpora_sources,
    rules_off,
    run_reporting_errors,
)
from benchmarks.bench_thresholds import read_once
from benchmarks.corpora import SPLITS
from benchmarks.corpora.scoring import OVERLAP, overlap
from benchmarks.machine import describe_machine
from camera_demo.smoothing import box_iou
from runtime import DigitClassifier
from runtime.atomic import write_json
from runtime.classifier import STROKE_DIGIT, acceptance_bar, accepts
from runtime.cli_common import EXIT_OK, make_parser
from runtime.segment import _NOT_A_DIGIT

PROG = "bench_misses"
CORPUS_NAMES = FRAME_CORPORA_WITH_DIGITS
CAUSES = (
    "word rule",
    "never proposed",
    "taken for another digit",
    "taken for no digit",
    "a 1 under the stroke bar",
    "doubted",
    "choice",
)
# A candidate fits a written digit when their boxes' intersection over union is at least this.
FIT = 0.5


def _read_boxes(frame, model: str, threshold: float) -> list[tuple]:
    probabilities = frame.probabilities[model]
    if not len(probabilities):
        return []
    rule = partial(accepts, threshold=threshold)
    return [region.box for region, _ in frame.candidates.choose(probabilities, rule)]


def cause_of_miss(frame, model: str, threshold: float, box, digit: int, read_freely) -> str:
    """Why the written ``digit`` at ``box`` was not read (see the module)."""
    if any(overlap(box, read) >= OVERLAP for read in read_freely):
        return "word rule"
    probabilities = frame.probabilities[model]
    fitting = [
        row
        for region, row in zip(frame.candidates.regions, probabilities, strict=True)
        if box_iou(box, region.box) >= FIT
    ]
    if not fitting:
        return "never proposed"
    right = [float(row[digit]) for row in fitting if int(row.argmax()) == digit]
    if not right:
        return "taken for another digit"
    confidence = max(right)
    if confidence < _NOT_A_DIGIT:
        return "taken for no digit"
    if digit == STROKE_DIGIT and threshold <= confidence < acceptance_bar(threshold, digit):
        return "a 1 under the stroke bar"
    if confidence < acceptance_bar(threshold, digit):
        return "doubted"
    return "choice"


def causes(frames, model: str, threshold: float) -> dict[str, int]:
    """The written digits, those read, those missed, and the misses by cause."""
    counts: Counter[str] = Counter()
    for frame in frames:
        read = _read_boxes(frame, model, threshold)
        freely = None
        for box, char in zip(frame.item.boxes, frame.item.text, strict=True):
            counts["written"] += 1
            if any(overlap(box, other) >= OVERLAP for other in read):
                continue
            counts["missed"] += 1
            if freely is None:
                with rules_off(["word-rule"]):
                    freely = _read_boxes(frame, model, threshold)
            counts[cause_of_miss(frame, model, threshold, box, int(char), freely)] += 1
    return {key: counts[key] for key in ("written", "missed", *CAUSES)}


def table(rows: dict[str, dict[str, int]]) -> str:
    """The misses by cause per corpus, markdown."""
    keys = ("written", "missed", *CAUSES)
    lines = ["| corpus | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(str(row[key]) for key in keys) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import cv2

    sources = corpora_sources(args.data, args.corpus)
    classifier = DigitClassifier(
        args.model, backend=args.backend, num_threads=1, threshold=args.threshold
    )
    start = time.perf_counter()
    frames = read_once(args.split, args.limit, sources, {args.model: classifier}, args.corpus)
    rows = {name: causes(frames[name], args.model, classifier.threshold) for name in args.corpus}
    print(f"# Why written digits are missed, split {args.split}\n")
    print(f"Machine: {describe_machine()}; OpenCV {cv2.__version__}, 1 thread")
    print(f"Model {args.model}, threshold {classifier.threshold}\n")
    print(table(rows) + "\n")
    print(f"Time: {time.perf_counter() - start:.1f} s")
    if args.json is not None:
        write_json(
            args.json, {"split": args.split, "threshold": classifier.threshold, "rows": rows}
        )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = make_parser(f"python -m benchmarks.{PROG}", __doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, metavar="FILE", help="the .tflite model")
    parser.add_argument("--split", choices=SPLITS, default="tune", help="which split to read")
    parser.add_argument(
        "--corpus",
        nargs="+",
        choices=ALL_FRAME_CORPORA_WITH_DIGITS,
        default=list(CORPUS_NAMES),
        metavar="NAME",
        help=f"frame corpora to read (default: {' '.join(CORPUS_NAMES)}; also fonts-pages)",
    )
    add_data_and_backend(parser)
    add_threshold(parser)
    add_limit(parser)
    add_json(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors(PROG, lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
