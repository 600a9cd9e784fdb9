"""How well the kit reads inputs it never trained on nor was tuned against, 1 thread.

    python -m benchmarks.bench_reading --model artifacts/model_int8.tflite [--split report]
        [--corpus NAME ...] [--data DIR] [--backend auto] [--limit N] [--dump DIR] [--json FILE]

Corpora (``benchmarks.corpora``; each split generated deterministically from its seeds):
``fonts-single`` (one digit per photo in six handwriting fonts, read by
``DigitClassifier.predict``), ``fonts-numbers`` (640x480 photos of a 1-6 digit number in
those fonts), ``fonts-notes`` (640x480 photos of a note in those fonts, one number of 1-4
digits among its words), ``fonts-pages`` (such notes, 2-9 lines, written small on 1600x1200
photos of the whole page, read with ``--min-height`` 0.012), ``camera`` (640x480 frames of 1-4 MNIST test digits on tinted,
often lined paper), ``digit-free`` (ruled and graph paper, wood, fabric, handwritten words, printed
text), ``lowres`` (MNIST test digits clean, low-resolution, thick, blurred and cut at
their box) and ``optdigits`` (13 other writers' digits stored at 8x8, UCI's optdigits as
scikit-learn ships it, enlarged and photographed). Tune on ``--split tune``; report ``--split report``. The tune split holds five
times as many digit-free frames (``benchmarks/corpora/digit_free.py``) and three times as
many notes.

Columns: per-digit accuracy (frames: 1 - edit distance / truth digits on the accepted digit
string; single digits: top-1), exact-number rate (digit-free: frames read as nothing),
accepted-and-correct rate (single digits), false digits per digit-free frame, the gap to
the same digits clean (``lowres``, points of top-1), and mean reading time per item (the
kit's call only, not generating the input). A second table shows where the frames' truth
digits went: right, misread, rejected, missed, split, merged, plus extra accepted digits.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmarks import DEFAULT_MNIST
from benchmarks.corpora import CORPORA, SPLITS, FontsMissingError, Item, Sources, generate, report
from benchmarks.corpora import dump as dumping
from benchmarks.corpora.scoring import Outcome, ReadDigit, Reading, Row, failed, score
from benchmarks.machine import describe_machine
from runtime import DigitClassifier, NoDigitFoundError, preprocess, read_number
from runtime.atomic import write_json
from runtime.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    float_in_range,
    int_at_least,
    make_parser,
    output_dir,
    output_file,
    print_error,
)
from runtime.errors import DatasetError, DigitKitError
from runtime.segment import MIN_HEIGHT

PROG = "bench_reading"
# The frame corpora of the tune objective (bench_thresholds) and of bench_misses, which read
# with the kit's default min_height; the table of where truth digits went has fonts-pages too.
FRAME_CORPORA_WITH_DIGITS = ("fonts-numbers", "fonts-notes", "camera")
ALL_FRAME_CORPORA_WITH_DIGITS = (*FRAME_CORPORA_WITH_DIGITS, "fonts-pages")


def read(
    classifier: DigitClassifier, image: np.ndarray, single: bool, min_height: float = MIN_HEIGHT
) -> Reading:
    """Read ``image`` with the kit's public API: the ONE place the benchmark calls the kit.

    Single-digit photos go to ``classifier.predict`` (which preprocesses any photo into MNIST
    form); frames to ``runtime.read_number``, searched down to digits ``min_height`` of their
    height. Update this function when that API changes."""
    if single:
        try:
            prediction = classifier.predict(image)
        except NoDigitFoundError:
            return Reading("", (), found=False)
        digit = ReadDigit(None, prediction.digit, prediction.confidence, prediction.accepted)
        return Reading(str(prediction.digit) if prediction.accepted else "", (digit,))
    result = read_number(image, classifier, min_height=min_height)
    digits = tuple(
        ReadDigit(
            tuple(int(v) for v in found.region.box),  # type: ignore[arg-type]
            found.prediction.digit,
            found.prediction.confidence,
            True,  # read, accepted alone or vouched for by its number
            found.region.image,
        )
        for found in result.digits
    )
    return Reading(result.text, digits)


def _timed_read(classifier: DigitClassifier, item: Item) -> tuple[Reading, float]:
    start = time.perf_counter()
    reading = read(classifier, item.image, item.single, item.min_height)
    return reading, (time.perf_counter() - start) * 1e3


def run_corpus(
    name: str,
    split: str,
    limit: int | None,
    sources: Sources,
    classifier: DigitClassifier,
    dump_dir: Path | None,
) -> tuple[list[Outcome], float]:
    """Generate and read one corpus; return the outcomes and the seconds spent generating."""
    outcomes: list[Outcome] = []
    generating = 0.0
    items = generate(name, split, limit, sources)
    warm = False
    while True:
        start = time.perf_counter()
        item = next(items, None)
        generating += time.perf_counter() - start
        if item is None:
            break
        if not warm:  # the first call of a path loads code and fills caches: not timed
            read(classifier, item.image, item.single, item.min_height)
            warm = True
        reading, ms = _timed_read(classifier, item)
        outcome = score(item, reading, ms)
        if dump_dir is not None and failed(outcome):
            dumping.write(dump_dir, outcome, reading, _mnist_form(item) if item.single else None)
        outcome.item = item.without_image()  # a corpus of frames would fill gigabytes
        outcomes.append(outcome)
    return outcomes, generating


def _mnist_form(item: Item) -> np.ndarray | None:
    """What ``predict`` classified for a single-digit photo (for failure images only)."""
    try:
        return preprocess(item.image)
    except NoDigitFoundError:
        return None


def header(args: argparse.Namespace, classifier: DigitClassifier) -> dict[str, object]:
    """The facts printed above the table."""
    import cv2

    return {
        "machine": describe_machine(),
        "model": str(Path(args.model).resolve()),
        "backend": classifier.backend_name,
        "threshold": classifier.threshold,
        "split": args.split,
        "opencv": cv2.__version__,
        "threads": 1,
        "rules_off": list(args.without),
    }


def run(args: argparse.Namespace) -> int:
    names = args.corpus
    sources = corpora_sources(args.data, names)
    classifier = DigitClassifier(
        args.model, backend=args.backend, num_threads=1, threshold=args.threshold
    )
    facts = header(args, classifier)
    rows: list[Row] = []
    frame_rows: list[dict[str, object]] = []
    single_rows: list[dict[str, object]] = []
    false: dict[str, dict[str, int]] = {}
    seconds: dict[str, dict[str, float]] = {}
    wall = time.perf_counter()
    for name in names:
        start = time.perf_counter()
        outcomes, generating = run_corpus(
            name, args.split, args.limit, sources, classifier, args.dump
        )
        total = time.perf_counter() - start
        reading = sum(o.ms for o in outcomes) / 1e3
        seconds[name] = {"total": total, "generating": generating, "reading": reading}
        rows.extend(report.corpus_rows(name, outcomes))
        if name in ALL_FRAME_CORPORA_WITH_DIGITS:
            frame_rows.extend(report.frame_errors(name, outcomes))
        if outcomes and outcomes[0].item.single:
            single_rows.append(report.single_errors(name, outcomes))
            single_rows.extend(
                report.single_errors(name, members, group)
                for group, members in report.groups(outcomes)
            )
        if name == "digit-free":
            false = report.false_digits(outcomes)
    elapsed = time.perf_counter() - wall

    print(f"# Reading benchmark, split {facts['split']}\n")
    print(f"Machine: {facts['machine']}; OpenCV {facts['opencv']}, 1 thread")
    print(
        f"Model: {facts['model']}; backend {facts['backend']}; acceptance threshold "
        f"{facts['threshold']}"
    )
    if args.without:
        print(f"Reading rules off: {', '.join(args.without)}")
    limit = "" if args.limit is None else f" (first {args.limit} per corpus)"
    print(f"Split: {facts['split']}{limit}\n")
    print(report.results_table(rows))
    if frame_rows:
        print("\nWhere the truth digits of frames went:\n")
        print(report.frame_errors_table(frame_rows))
    if single_rows:
        print("\nSingle-digit photos that were not accepted-and-correct:\n")
        print(report.single_errors_table(single_rows))
    if false:
        print("\nFalse digits on digit-free frames, by kind: ", end="")
        print(
            "; ".join(
                f"{kind} " + (", ".join(f"{d}x{n}" for d, n in counts.items()) or "none")
                for kind, counts in false.items()
            )
        )
    timing = ", ".join(
        f"{name} {s['total']:.1f} s ({s['generating']:.1f} generating, {s['reading']:.1f} reading)"
        for name, s in seconds.items()
    )
    print(f"\nTime: {elapsed:.1f} s in all; {timing}")
    if args.dump is not None:
        print(f"Failures written to {args.dump}")
    if args.json is not None:
        results = {
            **facts,
            "limit": args.limit,
            "rows": report.row_dicts(rows),
            "frame_errors": frame_rows,
            "single_errors": single_rows,
            "false_digits": false,
            "seconds": {"all": elapsed, **seconds},
        }
        write_json(args.json, results)
    return EXIT_OK


# The reader's heuristic rules, kept only while this benchmark shows they help:
# name -> (module, its switch, the switch's value with the rule off, what the rule does).
RULES = {
    "word-rule": (
        "runtime.segment",
        "_WORDS_ARE_NOT_NUMBERS",
        False,
        "digits in a word holding letters are not read",
    ),
    "doubted-digits": (
        "runtime.segment",
        "_DOUBTED_IN_NUMBERS",
        False,
        "a doubted digit or touching pair among clear digits is read (off: doubted numbers too)",
    ),
    "doubted-numbers": (
        "runtime.segment",
        "_DOUBTED_NUMBERS",
        False,
        "two or more doubted digits of even height, with no clear digit and no letter, are read",
    ),
    "misread-digit": (
        "runtime.segment",
        "_MISREAD_IN_NUMBERS",
        False,
        "one piece read as no digit among three or more clear digits of even height does not "
        "make the number a word",
    ),
    "numbers-beside-words": (
        "runtime.segment",
        "_NUMBERS_BESIDE_WORDS",
        False,
        "in a word holding a letter, clear digits further than 0.3 x the taller neighbour's "
        "height from every letter's group are a number",
    ),
    "lone-digit": (
        "runtime.segment",
        "_LONE_DOUBTED_DIGIT",
        False,
        "in a frame where nothing is read, its one piece of digit height is read if the judge "
        "reads it at 0.5 or more",
    ),
    "stroke-rule": (
        "runtime.classifier",
        "STROKE_ODDS",
        1.0,
        "a 1 is accepted only when the model is STROKE_ODDS times as sure, in odds",
    ),
}


def corpora_sources(data: Path, names: Iterable[str]) -> Sources:
    """The sources of corpora ``names``, checked now so that a missing font or dataset fails
    before any reading; OpenCV on one thread, as the benchmarks measure."""
    import cv2

    cv2.setNumThreads(1)
    sources = Sources(data)
    for name in names:
        sources.check(CORPORA[name].needs)
    return sources


def run_reporting_errors(prog: str, run: Callable[[], int]) -> int:
    """``run()``, with the benchmarks' expected failures (a missing font or dataset, a model
    that does not load) as one error line and ``EXIT_BAD_INPUT``."""
    try:
        return run()
    except (FontsMissingError, DatasetError, DigitKitError) as exc:
        print_error(prog, exc)
        return EXIT_BAD_INPUT


def add_limit(
    parser: argparse.ArgumentParser, help: str = "only the first N items per corpus"
) -> None:
    """``--limit N``, as the reading benchmarks take it."""
    parser.add_argument("--limit", type=int_at_least(1), metavar="N", help=help)


def add_without(parser: argparse.ArgumentParser) -> None:
    """``--without RULE ...`` (of ``RULES``), as the reading benchmarks take it."""
    parser.add_argument(
        "--without",
        nargs="+",
        choices=list(RULES),
        default=[],
        metavar="RULE",
        help="read with these reading rules off, to measure what each buys: "
        + ", ".join(f"{name} ({rule[-1]})" for name, rule in RULES.items()),
    )


@contextmanager
def rules_off(names: Iterable[str]) -> Iterator[None]:
    """Read with the reading rules ``names`` (of ``RULES``) switched off; restored after."""
    restore = []
    try:
        for name in dict.fromkeys(names):  # each once: a repeat would restore 'off'
            module_name, switch, off, _ = RULES[name]
            module = importlib.import_module(module_name)
            restore.append((module, switch, getattr(module, switch)))
            setattr(module, switch, off)
        yield
    finally:
        for module, switch, value in reversed(restore):
            setattr(module, switch, value)


def add_threshold(parser: argparse.ArgumentParser) -> None:
    """``--threshold``: read at another acceptance threshold than the model's own."""
    parser.add_argument(
        "--threshold",
        type=float_in_range(0.0, 1.0),
        default=None,
        metavar="P",
        help="acceptance threshold (default: the model's own); for exploring on the tune split",
    )


def add_data(parser: argparse.ArgumentParser) -> None:
    """``--data`` (MNIST), as the reading benchmarks take it."""
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("DIGIT_KIT_MNIST_DIR") or DEFAULT_MNIST),
        metavar="DIR",
        help="MNIST directory ($DIGIT_KIT_MNIST_DIR when set)",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    """``--json FILE``: the benchmarks' results also written as JSON."""
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="also write the results to this JSON file"
    )


def add_data_and_backend(parser: argparse.ArgumentParser) -> None:
    """``--data`` (MNIST) and ``--backend``, as the reading benchmarks take them."""
    add_data(parser)
    parser.add_argument("--backend", default="auto", metavar="NAME", help="inference backend")


def build_parser() -> argparse.ArgumentParser:
    """The command line (``--help`` lists the corpora)."""
    parser = make_parser(
        f"python -m benchmarks.{PROG}",
        __doc__.split("\n\n")[0],
        epilog="corpora:\n" + "\n".join(f"  {c.name}: {c.summary}" for c in CORPORA.values()),
    )
    parser.add_argument("--model", required=True, metavar="FILE", help="the .tflite model")
    parser.add_argument("--split", choices=SPLITS, default="report", help="which split to read")
    parser.add_argument(
        "--corpus",
        nargs="+",
        choices=list(CORPORA),
        default=list(CORPORA),
        metavar="NAME",
        help="corpora to run",
    )
    add_data_and_backend(parser)
    add_threshold(parser)
    add_without(parser)
    add_limit(parser, "only the first N items per corpus (lowres: N digits, each in 5 conditions)")
    parser.add_argument(
        "--dump", type=output_dir, metavar="DIR", help="write misread items here as annotated PNGs"
    )
    add_json(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in args.corpus:
        most = CORPORA[name].most[args.split]
        if args.limit is not None and args.limit > most:
            parser.error(f"--limit: {name} has {most} items in the {args.split} split")
    with rules_off(args.without):
        return run_reporting_errors(PROG, lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
