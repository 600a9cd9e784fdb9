"""benchmarks.corpora: the reading benchmark's generators, splits, truth and scoring."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import DEFAULT_MNIST, bench_reading
from benchmarks.corpora import (
    CORPORA,
    SPLITS,
    FontsMissingError,
    Sources,
    fonts_pages,
    generate,
    optdigits,
)
from benchmarks.corpora import fonts as font_files
from benchmarks.corpora.digit_free import KINDS
from benchmarks.corpora.items import item_seed
from benchmarks.corpora.lowres import CONDITIONS, digit_order
from benchmarks.corpora.mnist_digits import TEST_HALVES, split_indices
from benchmarks.corpora.scoring import ReadDigit, Reading, breakdown, edit_distance, score
from runtime.classifier import Prediction
from runtime.errors import NoDigitFoundError
from runtime.segment import MIN_HEIGHT
from train.data import keras_cache_dir

MNIST_CORPORA = ("camera", "lowres")
FRAME = (480, 640, 3)


def _mnist_dir() -> Path | None:
    """Where MNIST is on this machine without downloading: $DIGIT_KIT_MNIST_DIR, the shared
    directory beside the repo, or Keras' cache."""
    candidates = [os.environ.get("DIGIT_KIT_MNIST_DIR"), DEFAULT_MNIST]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    cache = keras_cache_dir()
    return cache if (cache / "mnist.npz").is_file() else None


needs_mnist = pytest.mark.skipif(_mnist_dir() is None, reason="MNIST is not available locally")
needs_sklearn = pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None, reason="optdigits comes with scikit-learn"
)


@pytest.fixture(scope="module")
def sources() -> Sources:
    return Sources(_mnist_dir())


def _corpus_params() -> list[object]:
    marks = {name: needs_mnist for name in MNIST_CORPORA} | {"optdigits": needs_sklearn}
    return [pytest.param(name, marks=marks[name]) if name in marks else name for name in CORPORA]


@pytest.mark.parametrize("name", _corpus_params())
def test_same_seed_same_items_and_splits_differ(name: str, sources: Sources) -> None:
    first = list(generate(name, "tune", 3, sources))
    again = list(generate(name, "tune", 3, sources))
    other = list(generate(name, "report", 3, sources))
    for a, b, c in zip(first, again, other, strict=True):
        assert np.array_equal(a.image, b.image)
        assert (a.text, a.boxes, a.tags, a.sources) == (b.text, b.boxes, b.tags, b.sources)
        assert a.split == "tune" and c.split == "report"
        same_shape = a.image.shape == c.image.shape
        assert not same_shape or not np.array_equal(a.image, c.image)


def test_split_seeds_are_disjoint() -> None:
    for name, corpus in CORPORA.items():
        seeds = {
            split: {item_seed(name, split, i) for i in range(corpus.default_count(split))}
            for split in SPLITS
        }
        assert not seeds["tune"] & seeds["report"], name
    with pytest.raises(ValueError, match="unknown split"):
        item_seed("camera", "train", 0)


def test_mnist_halves_are_disjoint() -> None:
    tune, report = (set(split_indices(s).tolist()) for s in SPLITS)
    assert not tune & report
    assert tune | report == set(range(10_000))
    order = {split: digit_order(split) for split in SPLITS}
    assert not set(order["tune"].tolist()) & set(order["report"].tolist())
    for split in SPLITS:
        assert sorted(order[split].tolist()) == sorted(split_indices(split).tolist())


@needs_mnist
@pytest.mark.parametrize("split", SPLITS)
def test_mnist_corpora_draw_only_from_their_half(split: str, sources: Sources) -> None:
    start, stop = TEST_HALVES[split]
    items = [*generate("camera", split, 8, sources), *generate("lowres", split, 3, sources)]
    labels = sources.mnist_test()[1]
    for item in items:
        assert item.sources and all(start <= i < stop for i in item.sources)
        assert item.text == "".join(str(labels[i]) for i in item.sources)


def _paper_level(image: np.ndarray) -> float:
    return float(np.median(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)))


@pytest.mark.parametrize(
    ("name", "tallest"),
    # digits 40-140 px tall (notes: 30-90, smaller where a line must shrink to fit) + tilt
    [
        ("fonts-numbers", (36, 150)),
        ("fonts-notes", (20, 100)),
        pytest.param("camera", (36, 150), marks=needs_mnist),
    ],
)
def test_truth_boxes_lie_in_the_frame_on_dark_ink(name, tallest, sources: Sources) -> None:
    for item in generate(name, "tune", 6, sources):
        assert item.image.shape == FRAME and item.image.dtype == np.uint8
        assert item.text.isdigit() and len(item.boxes) == len(item.text) and not item.single
        gray = cv2.cvtColor(item.image, cv2.COLOR_BGR2GRAY)
        paper = _paper_level(item.image)
        for x, y, w, h in item.boxes:
            assert x >= 0 and y >= 0 and x + w <= FRAME[1] and y + h <= FRAME[0]
            assert w >= 3 and tallest[0] <= h <= tallest[1]
            inside = gray[y : y + h, x : x + w]
            assert np.percentile(inside, 5) < paper - 40, "no dark ink in a truth box"
        if name == "fonts-notes":
            continue  # its words are ink outside the boxes
        # Ink lies in the boxes: outside them the frame is paper and (maybe) faint lines.
        outside = np.ones(gray.shape, bool)
        for x, y, w, h in item.boxes:
            outside[max(0, y - 3) : y + h + 3, max(0, x - 3) : x + w + 3] = False
        assert np.percentile(gray[outside], 0.5) > np.percentile(gray, 0.01)


def test_pages_hold_small_digits_the_reading_searches_down_to(sources: Sources) -> None:
    for item in generate("fonts-pages", "tune", 6, sources):
        height, width = item.image.shape[:2]
        assert (height, width) == fonts_pages.FRAME and item.text.isdigit()
        assert len(item.boxes) == len(item.text) and not item.single
        for x, y, w, h in item.boxes:
            assert x >= 0 and y >= 0 and x + w <= width and y + h <= height
            assert item.min_height * height <= h <= 45  # 18-36 px, tilted
    notes = next(generate("fonts-notes", "tune", 1, sources))
    assert notes.min_height == MIN_HEIGHT  # other corpora read with the kit's default


def test_digit_free_frames_have_no_digits(sources: Sources) -> None:
    items = list(generate("digit-free", "tune", len(KINDS), sources))
    assert [dict(item.tags)["kind"] for item in items] == list(KINDS)
    for item in items:
        assert item.text == "" and item.boxes == () and not item.single
        assert item.image.shape == FRAME and item.image.dtype == np.uint8
        assert item.image.std() > 2  # a photographed surface, not a flat fill


def test_single_digit_photos(sources: Sources) -> None:
    items = list(generate("fonts-single", "report", 60, sources))
    fonts = {dict(item.tags)["font"] for item in items}
    assert fonts == {font.name for font in font_files.HANDWRITING}
    assert sorted({item.text for item in items}) == [str(d) for d in range(10)]
    for item in items:
        height, _, channels = item.image.shape
        assert 60 <= height <= 200 and channels == 3 and item.image.dtype == np.uint8
        assert item.single and item.boxes == ()
        assert cv2.cvtColor(item.image, cv2.COLOR_BGR2GRAY).min() < _paper_level(item.image) - 40


@needs_sklearn
def test_optdigits_splits_are_whole_forms(sources: Sources) -> None:
    # Each filled-in form is the same sequence of digits: the tune split ends with a whole one
    # and the report split starts with the next one's opening (its first 0 left out), so that
    # no form spans both splits (if sklearn's copy of the data ever changes, this says so).
    images, labels = sources.optdigits()
    text = "".join(str(int(label)) for label in labels)
    form = text[: optdigits.FORM_LENGTH]
    assert form.startswith("0123456789" * 3) and len(labels) == optdigits.COUNT
    start = optdigits.REPORT_START
    assert text[start - optdigits.FORM_LENGTH : start] == form
    assert text[start : start + 19] == form[1:20]
    tune, report = (set(optdigits.split_range(split)) for split in SPLITS)
    assert not tune & report and tune | report == set(range(optdigits.COUNT))
    assert images.shape == (optdigits.COUNT, 8, 8) and images.max() == 16


@needs_sklearn
@pytest.mark.parametrize("split", SPLITS)
def test_optdigits_items_show_their_writers_digit(split: str, sources: Sources) -> None:
    labels = sources.optdigits()[1]
    first = optdigits.split_range(split)[0]
    for item in generate("optdigits", split, 4, sources):
        assert item.single and item.image.shape == (128, 128, 3)
        assert item.sources[0] == first + item.index
        assert item.text == str(int(labels[item.sources[0]]))
        assert dict(item.tags)["enlarged"] in optdigits.ENLARGED
        gray = cv2.cvtColor(item.image, cv2.COLOR_BGR2GRAY)
        assert gray.min() < _paper_level(item.image) - 40, "no dark ink"
    with pytest.raises(ValueError, match="optdigits has 891 items in report"):
        list(generate("optdigits", "report", 892, sources))


@needs_mnist
def test_lowres_conditions_share_the_digit(sources: Sources) -> None:
    items = list(generate("lowres", "tune", 2, sources))
    assert len(items) == 2 * len(CONDITIONS)
    for first in range(0, len(items), len(CONDITIONS)):
        group = items[first : first + len(CONDITIONS)]
        assert [dict(item.tags)["condition"] for item in group] == list(CONDITIONS)
        assert len({(item.pair, item.text, item.sources) for item in group}) == 1
        for item in group:
            assert item.image.dtype == np.uint8 and item.single
        photos = {dict(item.tags)["condition"]: item.image for item in group}
        tight = photos.pop("tight")
        assert all(photo.shape == (128, 128, 3) for photo in photos.values())
        clean = photos.pop("clean").astype(int)
        assert all(np.abs(photo.astype(int) - clean).mean() > 0.5 for photo in photos.values())
        # The tight photo is the clean one cut at the digit's box: the box is found in it.
        found = cv2.matchTemplate(group[0].image, tight, cv2.TM_SQDIFF)
        y, x = np.unravel_index(int(np.argmin(found)), found.shape)
        height, width = tight.shape[:2]
        assert height < 128 and width < 128
        np.testing.assert_array_equal(group[0].image[y : y + height, x : x + width], tight)


@needs_mnist
@pytest.mark.parametrize("inverted", [False, True], ids=["pen-on-paper", "chalk-on-board"])
def test_a_digit_cut_at_its_box_is_prepared_like_the_same_digit_with_paper_around(
    sources: Sources, inverted: bool
) -> None:
    # A program that finds digits itself hands over crops cut at the ink's box: no paper to
    # measure, no margin to guess the polarity from. Measured on the tune split's first 60
    # digits: 12 of them prepared unlike the same photo uncut (a "1" found no ink, a bold 9's
    # hole taken for its ink) before such crops were read framed by paper; 1 after.
    from runtime import preprocess

    items = list(generate("lowres", "tune", 60, sources))
    unlike = 0
    for first in range(0, len(items), len(CONDITIONS)):
        photos = {
            dict(item.tags)["condition"]: item.image
            for item in items[first : first + len(CONDITIONS)]
        }
        clean, tight = photos["clean"], photos["tight"]
        if inverted:
            clean, tight = 255 - clean, 255 - tight
        try:
            similarity = np.corrcoef(preprocess(clean).ravel(), preprocess(tight).ravel())[0, 1]
            unlike += similarity < 0.8
        except NoDigitFoundError:
            unlike += 1
    assert unlike <= 2


def test_missing_fonts_name_the_packages(tmp_path: Path) -> None:
    with pytest.raises(FontsMissingError) as caught:
        font_files.locate(font_files.HANDWRITING, roots=(tmp_path,))
    message = str(caught.value)
    assert "apt-get install" in message
    for font in font_files.HANDWRITING:
        assert font.package in message
    with pytest.raises(FontsMissingError, match="fonts-dejavu-core"):
        Sources(font_roots=(tmp_path,)).printed()


def test_benchmark_stops_on_missing_fonts(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DIGIT_KIT_FONT_ROOT", str(tmp_path))
    code = bench_reading.main(
        ["--model", str(tmp_path / "none.tflite"), "--corpus", "fonts-single"]
    )
    assert code == 2
    assert "sudo apt-get install fonts-comic-neue" in capsys.readouterr().err


def test_rules_switched_off_for_one_run_are_on_again_after_it(tmp_path: Path, monkeypatch) -> None:
    import importlib

    from runtime import classifier, segment

    seen = {}

    def run(args):
        seen.update(
            {
                name: getattr(importlib.import_module(module), switch)
                for name, (module, switch, _, _) in bench_reading.RULES.items()
            }
        )
        return 0

    monkeypatch.setattr(bench_reading, "run", run)
    switches = (
        "_WORDS_ARE_NOT_NUMBERS",
        "_DOUBTED_IN_NUMBERS",
        "_DOUBTED_NUMBERS",
        "_MISREAD_IN_NUMBERS",
        "_NUMBERS_BESIDE_WORDS",
        "_LONE_DOUBTED_DIGIT",
    )
    before = (*(getattr(segment, name) for name in switches), classifier.STROKE_ODDS)
    rules = [*bench_reading.RULES, "stroke-rule"]  # a rule named twice is switched off once
    argv = ["--model", str(tmp_path / "m.tflite"), "--without", *rules]
    assert bench_reading.main(argv) == 0
    assert seen == {
        "word-rule": False,
        "doubted-digits": False,
        "doubted-numbers": False,
        "misread-digit": False,
        "numbers-beside-words": False,
        "lone-digit": False,
        "stroke-rule": 1.0,
    }
    after = (*(getattr(segment, name) for name in switches), classifier.STROKE_ODDS)
    assert after == before


def test_edit_distance() -> None:
    assert edit_distance("", "") == 0
    assert edit_distance("472", "") == 3
    assert edit_distance("", "11") == 2
    assert edit_distance("4598", "4598") == 0
    assert edit_distance("4598", "458") == 1
    assert edit_distance("54", "8") == 2
    assert edit_distance("123", "1123") == 1
    assert edit_distance("4598", "5498") == 2  # a swap is two substitutions
    assert edit_distance("kitten", "sitting") == 3


def _digit(box: tuple[int, int, int, int], digit: int, accepted: bool = True) -> ReadDigit:
    return ReadDigit(box, digit, 0.9 if accepted else 0.3, accepted)


def test_breakdown_sorts_every_truth_digit() -> None:
    boxes = [
        (10, 10, 20, 40),
        (40, 10, 20, 40),
        (70, 10, 20, 40),
        (100, 10, 20, 40),
        (130, 10, 20, 40),
        (160, 10, 20, 40),
    ]
    reading = Reading(
        "7131",
        (
            _digit((10, 10, 20, 40), 7),  # truth 1, read 7: misread
            _digit((40, 10, 20, 40), 2, accepted=False),  # rejected
            _digit((70, 10, 20, 18), 1),  # truth 3 in two pieces: split
            _digit((70, 30, 20, 20), 3),
            _digit((128, 10, 54, 40), 1),  # truths 5 and 6 in one box: merged
            _digit((300, 10, 20, 40), 1, accepted=True),  # over no truth: extra
        ),
    )
    categories, extra = breakdown("123456", boxes, reading)
    assert dict(categories) == {"misread": 1, "rejected": 1, "split": 1, "missed": 1, "merged": 2}
    assert extra == 1
    right, none = breakdown("1", boxes[:1], Reading("1", (_digit(boxes[0], 1),)))
    assert dict(right) == {"right": 1} and none == 0


class _FakeClassifier:
    """Answers like ``DigitClassifier``: one fixed prediction per image."""

    def __init__(self, digit: int | None, confidence: float = 0.95) -> None:
        self.digit, self.confidence = digit, confidence

    def _prediction(self) -> Prediction:
        probabilities = tuple(self.confidence if d == self.digit else 0.0 for d in range(10))
        return Prediction(self.digit or 0, self.confidence, probabilities, self.confidence >= 0.7)

    def predict(self, image: np.ndarray) -> Prediction:
        if self.digit is None:
            raise NoDigitFoundError("no ink")
        return self._prediction()

    def predict_batch(self, images: list[np.ndarray]) -> list[Prediction]:
        return [self._prediction() for _ in images]

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        return np.tile(np.asarray(self._prediction().probabilities, np.float32), (len(batch), 1))

    def accepts(self, confidence: float, digit: int) -> bool:
        return confidence >= 0.7


def test_adapter_reads_through_the_public_api(sources: Sources) -> None:
    photo = next(generate("fonts-single", "tune", 1, sources))  # a "0" in the first font
    reading = bench_reading.read(_FakeClassifier(0), photo.image, single=True)  # type: ignore[arg-type]
    assert reading.text == "0" and reading.found
    assert score(photo, reading, 1.0).accepted_correct
    doubtful = bench_reading.read(_FakeClassifier(0, 0.5), photo.image, single=True)  # type: ignore[arg-type]
    assert doubtful.text == "" and not score(photo, doubtful, 1.0).accepted_correct
    assert score(photo, doubtful, 1.0).top1
    empty = bench_reading.read(_FakeClassifier(None), photo.image, single=True)  # type: ignore[arg-type]
    assert not empty.found and empty.text == ""
    frame = next(generate("fonts-numbers", "tune", 1, sources))
    reading = bench_reading.read(_FakeClassifier(7), frame.image, single=False)  # type: ignore[arg-type]
    assert reading.text == "7" * len(reading.digits)
    for digit in reading.digits:
        _, _, w, h = digit.box
        assert w > 0 and h > 0 and digit.image.shape == (28, 28)


def test_a_dark_digit_whose_polarity_guess_fails_is_still_found(sources: Sources) -> None:
    # A "3" in Humor Sans on dim, vignetted paper (tune split): the gray levels' skew makes
    # the polarity guess say light-on-dark, which finds no ink; the other polarity does.
    from runtime import preprocess
    from runtime.images import as_gray_u8, shrink
    from runtime.ink import is_dark_on_light

    (photo,) = CORPORA["fonts-single"].make("tune", 378, sources)
    assert photo.text == "3"
    assert not is_dark_on_light(shrink(as_gray_u8(photo.image), 64)[0])  # the guess is wrong
    np.testing.assert_array_equal(
        preprocess(photo.image), preprocess(photo.image, polarity="dark_on_light")
    )


@needs_mnist
def test_threshold_grid_reads_as_the_reading_benchmark_does(built_model: Path, tmp_path: Path):
    """With the reading rules on and with the word rule off (which reads more), the grid's row
    at a threshold is what bench_reading reads at it."""
    from benchmarks import bench_thresholds

    threshold = "0.7"  # where the word rule turns down some of what this random model reads
    grids = []
    for without in ([], ["--without", "word-rule"]):
        common = ["--model", str(built_model), "--split", "tune", "--limit", "6", *without]
        reading_json, grid_json = tmp_path / "reading.json", tmp_path / "grid.json"
        corpora = ["--corpus", *bench_thresholds.CORPUS_NAMES]
        reading = [*common, *corpora, "--threshold", threshold, "--json", str(reading_json)]
        assert bench_reading.main(reading) == 0
        grid_argv = [*common, "--thresholds", threshold, "--json", str(grid_json)]
        assert bench_thresholds.main(grid_argv) == 0
        rows = {
            row["corpus"]: row
            for row in json.loads(reading_json.read_text())["rows"]
            if row["group"] is None
        }
        (model,) = json.loads(grid_json.read_text())["models"].values()
        (grid,) = [row for row in model["rows"] if row["threshold"] == float(threshold)]
        assert rows["digit-free"]["false_per_frame"] == pytest.approx(
            grid["digit-free false / frame"]
        )
        assert grid["digit-free false / frame"] + grid["camera per digit"] > 0  # something read
        for name in bench_thresholds.WITH_DIGITS:
            assert rows[name]["per_digit"] == pytest.approx(grid[f"{name} per digit"])
            assert rows[name]["exact"] == pytest.approx(grid[f"{name} exact"])
        grids.append(grid)
    assert grids[1]["digit-free false / frame"] > grids[0]["digit-free false / frame"]


def _frame_with(box, rows: list[list[float]]):
    """A read frame as ``bench_thresholds.read_once`` keeps it: candidates all at ``box``."""
    from types import SimpleNamespace

    regions = [SimpleNamespace(box=box) for _ in rows]
    return SimpleNamespace(
        candidates=SimpleNamespace(regions=regions),
        probabilities={"m": np.asarray(rows, np.float32)},
    )


def _row(digit: int, confidence: float) -> list[float]:
    row = [(1.0 - confidence) / 9] * 10
    row[digit] = confidence
    return row


def test_a_missed_digit_gets_the_first_cause_that_holds():
    from benchmarks.bench_misses import cause_of_miss
    from runtime.classifier import acceptance_bar

    box, elsewhere = (10, 10, 20, 30), (200, 10, 20, 30)
    threshold = 0.9

    def cause(rows, digit=3, box_of_candidates=box, read_freely=()):
        frame = _frame_with(box_of_candidates, rows)
        return cause_of_miss(frame, "m", threshold, box, digit, list(read_freely))

    assert cause([_row(3, 0.99)], read_freely=[(12, 10, 18, 30)]) == "word rule"
    assert cause([_row(3, 0.99)], box_of_candidates=elsewhere) == "never proposed"
    assert cause([]) == "never proposed"
    assert cause([_row(5, 0.99)]) == "taken for another digit"
    assert cause([_row(3, 0.4)]) == "taken for no digit"
    assert cause([_row(3, 0.4), _row(3, 0.7)]) == "doubted"  # the best fitting candidate
    one_between = (threshold + acceptance_bar(threshold, 1)) / 2
    assert cause([_row(1, one_between)], digit=1) == "a 1 under the stroke bar"
    assert cause([_row(3, one_between)]) == "choice"
    assert cause([_row(3, 0.99)]) == "choice"


@needs_mnist
def test_misses_add_up_to_what_the_reading_benchmark_misses(built_model: Path, tmp_path: Path):
    from benchmarks import bench_misses

    common = ["--model", str(built_model), "--split", "tune", "--limit", "6"]
    reading_json, misses_json = tmp_path / "reading.json", tmp_path / "misses.json"
    corpora = ["--corpus", *bench_misses.CORPUS_NAMES]
    assert bench_reading.main([*common, *corpora, "--json", str(reading_json)]) == 0
    assert bench_misses.main([*common, "--json", str(misses_json)]) == 0
    errors = {
        row["corpus"]: row
        for row in json.loads(reading_json.read_text())["frame_errors"]
        if row["group"] is None
    }
    for name, row in json.loads(misses_json.read_text())["rows"].items():
        assert row["written"] == errors[name]["digits"] > 0
        assert row["missed"] == errors[name]["missed"]
        assert sum(row[cause] for cause in bench_misses.CAUSES) == row["missed"]
