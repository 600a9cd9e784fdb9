"""runtime.segment: recall-first candidates, segmentation by recognition, the word rule, and
reading real pages with a trained model.

Pages come from the reading benchmark's own generators (``benchmarks.corpora``), written
independently of the kit's renderer, as well as from ``camera_demo.paper``; tests use the
``tune`` split, never the split the README reports.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from benchmarks.corpora import Sources, generate
from camera_demo import paper
from runtime import segment
from runtime.segment import (
    DigitRegion,
    FrameCandidates,
    candidate_regions,
    find_digits,
    numbers_in,
    read_digits,
    read_number,
    reading_order,
    smallest_searched,
    work_step,
)


@pytest.fixture(scope="module")
def sources(mnist_path) -> Sources:
    return Sources(mnist_path)


def camera_items(sources, count: int, **tags: str):
    """The first ``count`` tune-split camera frames with the given tags (paper, spacing)."""
    found = []
    for item in generate("camera", "tune", 400, sources):
        if all((key, value) in item.tags for key, value in tags.items()):
            found.append(item)
            if len(found) == count:
                break
    return found


def digit_free_items(sources, kind: str, count: int):
    items = generate("digit-free", "tune", 360, sources)
    return [item for item in items if ("kind", kind) in item.tags][:count]


def share_inside(box, truth) -> float:
    """The share of ``truth``'s box area inside ``box``."""
    x0, y0 = max(box[0], truth[0]), max(box[1], truth[1])
    x1 = min(box[0] + box[2], truth[0] + truth[2])
    y1 = min(box[1] + box[3], truth[1] + truth[3])
    return max(0, x1 - x0) * max(0, y1 - y0) / (truth[2] * truth[3])


# --- candidates: recall first, no judgement ---------------------------------------------------


def test_every_digit_on_noisy_ruled_paper_has_a_candidate(sources):
    """The finder misses no digit: each one, crossed by ruled lines, has a candidate that
    holds it and little else."""
    items = camera_items(sources, 25, paper="ruled")
    assert len(items) == 25
    missed = []
    for item in items:
        boxes = [region.box for region in candidate_regions(item.image)]
        for truth in item.boxes:
            fits = [
                b
                for b in boxes
                if share_inside(b, truth) >= 0.8 and b[2] * b[3] <= 2.2 * truth[2] * truth[3]
            ]
            if not fits:
                missed.append((item.index, truth))
    assert not missed, missed


def test_touching_digits_have_a_candidate_each(sources):
    items = camera_items(sources, 15, spacing="touching pair")
    found = total = 0
    for item in items:
        boxes = [region.box for region in candidate_regions(item.image)]
        for truth in item.boxes:
            total += 1
            found += any(share_inside(b, truth) >= 0.75 and b[2] <= 1.5 * truth[2] for b in boxes)
    assert found >= 0.9 * total, (found, total)


def test_ruled_and_graph_paper_leave_no_digit_sized_candidate():
    """Lines are erased whole, even tilted: at most a few specks of a faint, broken line are
    left for the judge, never a candidate of digit size."""
    rng = np.random.default_rng(4)
    for spacing in (22, 35, 50):
        ruled = paper.textured_paper(rng, (640, 480))
        paper.draw_ruled_lines_at(ruled, spacing, rng)
        paper.draw_margin(ruled, 90, level=(200.0, 120.0, 220.0))
        graph = paper.textured_paper(rng, (640, 480))
        paper.draw_grid(graph, spacing / 2, level=170.0)
        for canvas in (ruled, graph):
            regions = candidate_regions(paper.photograph(canvas, rng))
            assert len(regions) <= 8 and all(r.box[3] < 30 for r in regions), regions


def test_candidates_are_mnist_form_crops_inside_the_frame(sources):
    item = camera_items(sources, 1)[0]
    regions = candidate_regions(item.image)
    assert regions
    for region in regions:
        assert region.image.shape == (28, 28) and region.image.dtype == np.uint8
        assert region.image.max() == 255 and region.image[0].max() == 0  # white on black
        x, y, w, h = region.box
        assert x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480
        with pytest.raises(dataclasses.FrozenInstanceError):
            region.box = (0, 0, 1, 1)


def test_find_digits_groups_without_judging(mnist):
    page = paper.digit_page(list(mnist.x_test[[3, 2, 1]]), [0, 1, 2], field=90, spacing=20)
    regions = find_digits(paper.finish(page.canvas))
    assert len(regions) == 3 and all(isinstance(r, DigitRegion) for r in regions)
    assert [r.box[0] for r in regions] == sorted(r.box[0] for r in regions)


def test_digits_too_small_or_cut_by_the_frame_edge_are_not_candidates(mnist):
    tiny = paper.digit_page([mnist.x_test[0]], [7], field=12)
    assert candidate_regions(paper.finish(tiny.canvas)) == []
    cut = paper.paper(480, 640)
    paper.draw_ink(cut, paper.ink_coverage(mnist.x_test[0], 120), -30, 150)
    assert candidate_regions(paper.finish(cut)) == []


def test_small_digits_are_searched_in_a_finer_copy_of_the_picture():
    """A camera frame is searched at 320x240 whatever it asks; a page photo asked for digits
    1% of its height is searched where they are 6 px tall, not under a floor of 2% of its
    longer side (75 px of a 4000x3000 photo)."""
    assert work_step((480, 640)) == 2 and work_step((1080, 1920)) == 6
    assert work_step((3000, 4000), 0.01) == 5 and smallest_searched((3000, 4000), 0.01) == 30
    assert work_step((480, 640), 0.005) == 1 and smallest_searched((480, 640), 0.005) == 6
    assert smallest_searched((100, 100)) == 6  # never under 6 px


def test_a_frame_asked_for_small_digits_is_searched_in_a_fractional_copy(mnist):
    """A 640x480 frame asked for digits 2% of its height (9.6 px) is searched at 400x300,
    where they are 6 px tall: the integer step down (1) would search 2.56 times the pixels.
    Its 12 px digits are proposed there, and not at the default min_height."""
    assert work_step((480, 640), 0.02) == pytest.approx(1.6)
    assert smallest_searched((480, 640), 0.02) == 10
    assert work_step((1200, 1600), 0.012) == 2  # from 2 up, the integer step (fast reduction)
    page = paper.digit_page(mnist.x_test[:4], mnist.y_test[:4], field=17, spacing=8)
    frame = paper.finish(page.canvas)
    assert max(box[3] for box in page.boxes) < 0.04 * 480
    assert candidate_regions(frame) == []
    found = [r.box for r in candidate_regions(frame, min_height=0.02)]
    for truth in page.boxes:
        assert any(share_inside(box, truth) >= 0.8 for box in found), (truth, found)


def test_the_digits_of_a_page_photographed_whole_have_candidates(sources):
    """Notes written small (18-36 px) on 1600x1200 page photos: their digits are proposed when
    the search goes down to the page's own min_height (before the search followed it, half
    of them were under its floor). Not all: a row of capitals can pass for a ruled line."""
    found = total = 0
    for item in generate("fonts-pages", "tune", 12, sources):
        boxes = [r.box for r in candidate_regions(item.image, min_height=item.min_height)]
        for truth in item.boxes:
            total += 1
            found += any(share_inside(b, truth) >= 0.8 and b[3] <= 1.5 * truth[3] for b in boxes)
    assert found >= 0.9 * total, (found, total)


def test_lowering_min_height_leaves_the_search_for_large_digits_as_it_was(sources):
    """A finer copy is searched for the small digits only: the large digits of a big photo are
    proposed exactly as at the default min_height (a single finer search read them worse, its
    line finder's sizes being in pixels of its copy)."""
    for item in camera_items(sources, 3):
        big = cv2.resize(item.image, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_LINEAR)
        tall = 0.1 * big.shape[0]
        default = sorted(r.box for r in candidate_regions(big) if r.box[3] >= tall)
        lowered = candidate_regions(big, min_height=0.01)
        assert default and sorted(r.box for r in lowered if r.box[3] >= tall) == default


def test_invalid_height_limits_are_refused():
    with pytest.raises(ValueError, match="min_height"):
        find_digits(paper.finish(paper.blank_frame()), min_height=0.5, max_height=0.2)
    page = np.full((1200, 1600), 230, np.uint8)  # where a finer search would have its own limits
    with pytest.raises(ValueError, match=r"got min_height=0, max_height=0\.8$"):
        find_digits(page, min_height=0)
    with pytest.raises(ValueError, match="got min_height=nan"):
        find_digits(page, min_height=float("nan"))
    with pytest.raises(TypeError, match=r"min_height must be a number, got str '0\.01'"):
        find_digits(page, min_height="0.01")
    assert find_digits(page, min_height=np.array(0.02)) == []  # a NumPy number is a number


def test_reading_order_groups_lines_by_vertical_overlap():
    boxes = [(300, 10, 20, 30), (10, 200, 20, 30), (100, 12, 20, 30), (200, 205, 20, 30)]
    assert reading_order(boxes) == [2, 0, 1, 3]


def test_digit_boxes_are_grouped_into_numbers_at_lines_and_word_gaps():
    """ "12 3" over "45": a gap of 13 px stays within a number of 30 px tall digits, 14 px
    (over 0.45 x 30) starts another; overlapping boxes (a cut pair) are one number."""
    boxes = [
        (77, 10, 20, 30),
        (100, 200, 20, 30),
        (10, 12, 20, 30),
        (76, 205, 20, 30),
        (43, 11, 20, 30),
    ]
    assert numbers_in(boxes) == [[2, 4], [0], [3, 1]]
    boxes[0] = (76, 10, 20, 30)
    assert numbers_in(boxes) == [[2, 4, 0], [3, 1]]
    assert numbers_in([(43, 11, 20, 30), (56, 11, 20, 30)]) == [[0, 1]]
    assert numbers_in([]) == []


# --- the choice among candidates, with a judge whose answers are known ----------------------


class InkAspectJudge:
    """A stand-in classifier: a crop whose ink is 0.4-0.55 times as wide as tall (one of the
    test's bars) is a confident "1", any other (two bars, part of a bar, a wide block) is
    nothing. Records how often it is called."""

    threshold = 0.7

    def __init__(self) -> None:
        self.calls = 0

    def accepts(self, confidence: float, digit: int) -> bool:
        return confidence >= self.threshold

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        rows = []
        for crop in batch:
            ys, xs = np.nonzero(crop > 64)
            bar = 0.4 <= (np.ptp(xs) + 1) / (np.ptp(ys) + 1) <= 0.55
            rows.append(np.eye(10)[1] * 0.98 + 0.002 if bar else np.full(10, 0.1))
        return np.asarray(rows, np.float32)


def draw_bar(canvas: np.ndarray, x: int, width: int = 45, height: int = 90, y: int = 200) -> None:
    """A hollow dark bar (a "0"-like shape) with its top left corner at (x, y)."""
    cv2.rectangle(canvas, (x, y), (x + width - 1, y + height - 1), 30.0, -1)
    cv2.rectangle(canvas, (x + 12, y + 15), (x + width - 13, y + height - 16), 235.0, -1)


def bars(gaps: list[int]) -> np.ndarray:
    """Hollow bars on paper, one after the other with the given gaps (negative: overlapping)."""
    canvas = paper.paper(480, 640)
    x = 150
    for gap in [*gaps, None]:
        draw_bar(canvas, x)
        if gap is not None:
            x += 45 + gap
    return paper.finish(canvas)


def test_touching_shapes_are_cut_apart_by_recognition():
    judge = InkAspectJudge()
    read = read_digits(bars([-4]), judge)  # two boxes overlapping by 4 px: one piece of ink
    assert len(read) == 2 and judge.calls == 1
    assert read[0][0].box[0] < read[1][0].box[0]


def test_numbers_end_at_a_line_and_at_a_word_gap():
    """ "11 1" on one line and "11" below it: three numbers, in reading order."""
    canvas = paper.paper(480, 640)
    for x in (100, 160, 330):  # 15 px apart, then 125 px (more than a word's gap)
        draw_bar(canvas, x, y=60)
    for x in (100, 160):
        draw_bar(canvas, x, y=300)
    reading = read_number(paper.finish(canvas), InkAspectJudge())
    assert reading.numbers == ("11", "1", "11") and reading.text == "11111"
    assert [d.region.box[1] < 200 for d in reading.digits] == [True] * 3 + [False] * 2


def test_a_line_of_letters_is_not_a_number():
    """Two shapes the judge reads as digits, beside one it finds no digit: a word."""
    judge = InkAspectJudge()
    canvas = paper.paper(480, 640)
    for x in (150, 215):
        draw_bar(canvas, x)
    cv2.rectangle(canvas, (280, 240), (400, 289), 30.0, -1)  # wide and solid: "not a digit"
    assert read_digits(paper.finish(canvas), judge) == []
    cv2.rectangle(canvas, (280, 240), (400, 289), 235.0, -1)  # without it: a number
    assert len(read_digits(paper.finish(canvas), judge)) == 2


def test_one_misread_digit_among_three_clear_ones_leaves_them_a_number(monkeypatch):
    """Three bars the judge reads as digits and, as tall as they are, a wide shape it finds no
    digit (a digit written badly): the three are read. Beside two, or shorter than the
    bars, or with the rule off, the shape is a letter and the line a word ("so" reads "50")."""
    judge = InkAspectJudge()

    def line(bars: dict[int, int], shape_width: int, shape_height: int) -> np.ndarray:
        """Bars (x: height, half as wide) and the shape, all standing on y = 289."""
        canvas = paper.paper(480, 640)
        for x, height in bars.items():
            draw_bar(canvas, x, width=height // 2, height=height, y=290 - height)
        cv2.rectangle(canvas, (280, 290 - shape_height), (279 + shape_width, 289), 30.0, -1)
        return paper.finish(canvas)

    three = {100: 90, 160: 90, 220: 90}
    reading = read_number(line(three, 70, 90), judge)
    assert reading.numbers == ("111",)
    assert all(digit.region.box[0] < 280 for digit in reading.digits)
    assert read_digits(line({160: 90, 220: 90}, 70, 90), judge) == []
    # Clear digits of uneven heights: no number vouches for it.
    assert read_digits(line({100: 90, 160: 90, 220: 60}, 70, 90), judge) == []
    assert read_digits(line(three, 120, 50), judge) == []
    monkeypatch.setattr(segment, "_MISREAD_IN_NUMBERS", False)
    assert read_digits(line(three, 70, 90), judge) == []


def test_a_number_written_a_space_after_a_word_is_read(monkeypatch):
    """Two wide blocks the judge finds no digit (a word), then two bars (a number) a narrow
    space after them: nearer than the word gap, so one "word" holding letters, but further
    than letters stand apart, so the bars are a number. A bar as close as the letters are to
    each other is writing, a doubted bar is not vouched for there, and with the rule off the
    whole line is writing."""

    def note(first_bar: int, second_doubted: bool = False, bar_before: bool = False) -> np.ndarray:
        canvas = paper.paper(480, 640)
        if bar_before:  # 31.5 px before the letters, measured 54 px wide
            draw_bar(canvas, 22)
        for x in (100, 160):  # letters 60 px tall, 10 px apart
            cv2.rectangle(canvas, (x, 230), (x + 49, 289), 30.0, -1)
        draw_bar(canvas, first_bar)
        second = first_bar + 62
        if second_doubted:  # two holes: DoubtingThickJudge's doubted "1"
            cv2.rectangle(canvas, (second, 200), (second + 44, 289), 30.0, -1)
            for top in (215, 250):
                cv2.rectangle(canvas, (second + 15, top), (second + 30, top + 24), 235.0, -1)
        else:
            draw_bar(canvas, second)
        return paper.finish(canvas)

    # The bars are measured 54 px wide (_NARROWEST_DIGIT), so 4.5 px wider on each side: the
    # first stands 33.5 px after the letters, under 0.45 x 90 (a word gap), over 0.3 x 90.
    spaced = note(248)
    assert read_number(spaced, InkAspectJudge()).numbers == ("11",)
    assert read_digits(note(224), InkAspectJudge()) == []  # 9.5 px: a letter of the word
    # Beside a word's letters only clear digits make the number: a doubted one is left out.
    assert read_number(note(248, second_doubted=True), DoubtingThickJudge()).numbers == ("1",)
    # A number each side of the letters, in one word: two numbers.
    assert read_number(note(248, bar_before=True), InkAspectJudge()).numbers == ("1", "11")
    monkeypatch.setattr(segment, "_NUMBERS_BESIDE_WORDS", False)
    assert read_digits(spaced, InkAspectJudge()) == []


class DoubtingThickJudge(InkAspectJudge):
    """``InkAspectJudge``, but a bar with two holes (an "8"-like bar) is a doubted "1"."""

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        rows = super().predict_proba(batch)
        for row, crop in zip(rows, batch, strict=True):
            _, hierarchy = cv2.findContours(
                (crop > 64).astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
            )
            holes = 0 if hierarchy is None else int((hierarchy[0][:, 3] >= 0).sum())
            if row[1] > 0.5 and holes >= 2:
                row[:], row[1] = 0.04, 0.64
        return rows


def test_a_doubted_touching_pair_beside_clear_digits_is_read_as_two(monkeypatch):
    """Two clear bars, then two bars with two holes touching (one piece, as wide as tall)
    whose parts the judge doubts: a number of four digits. Without the doubted-digit rule the
    pair is a letter, and the line a word."""
    canvas = paper.paper(480, 640)
    for x in (100, 160):
        draw_bar(canvas, x)
    for x in (220, 264):  # 48 px wide, overlapping by 4 px: one piece 92 px wide, 90 px tall
        cv2.rectangle(canvas, (x, 200), (x + 47, 289), 30.0, -1)
        for top in (215, 250):
            cv2.rectangle(canvas, (x + 15, top), (x + 32, top + 24), 235.0, -1)
    frame = paper.finish(canvas)
    reading = read_number(frame, DoubtingThickJudge())
    assert reading.numbers == ("1111",)
    assert [d.region.box[0] for d in reading.digits] == sorted(
        d.region.box[0] for d in reading.digits
    )
    assert [d.prediction.confidence for d in reading.digits][2:] == pytest.approx([0.64, 0.64])
    monkeypatch.setattr(segment, "_DOUBTED_IN_NUMBERS", False)
    assert read_number(frame, DoubtingThickJudge()).digits == ()


def test_the_edge_of_a_page_beside_small_digits_leaves_them_a_number():
    """A page photographed on a table, its digits small: the page's edge, a piece taller than
    any digit searched for, lies beside them. It must not join their line and make them part
    of a word."""

    def read(edge: bool) -> tuple[str, ...]:
        canvas = paper.paper(1200, 1600)
        for x in (700, 724, 748):
            cv2.rectangle(canvas, (x, 500), (x + 10, 523), 30.0, -1)  # 24 px tall: 2%
        if edge:
            cv2.rectangle(canvas, (684, 300), (687, 800), 60.0, -1)
        return read_number(paper.finish(canvas), InkAspectJudge(), min_height=0.012).numbers

    assert read(edge=False) == read(edge=True) == ("111",)


def draw_doubted_bar(canvas: np.ndarray, x: int, height: int = 90) -> None:
    """A dark bar 45 px wide with two holes, bottom at y=289: ``DoubtingThickJudge``'s doubted 1."""
    top = 290 - height
    cv2.rectangle(canvas, (x, top), (x + 44, 289), 30.0, -1)
    for hole in (top + height // 6, top + height // 2 + 5):
        cv2.rectangle(canvas, (x + 14, hole), (x + 30, hole + height // 4), 235.0, -1)


def test_doubted_digits_standing_together_are_a_number(monkeypatch):
    """Two bars the judge doubts, of even height, with nothing else in their word: a number.
    Two of uneven heights, or two beside a shape that is no digit, are not read."""
    judge = DoubtingThickJudge()

    def read(heights: tuple[int, ...], letter: bool = False) -> str:
        canvas = paper.paper(480, 640)
        for index, height in enumerate(heights):
            draw_doubted_bar(canvas, 150 + 60 * index, height)
        if letter:
            cv2.rectangle(canvas, (280, 240), (400, 289), 30.0, -1)
        return read_number(paper.finish(canvas), judge).text

    assert read((90, 90)) == "11"
    assert read((90, 60)) == read((90, 90), letter=True) == ""
    monkeypatch.setattr(segment, "_DOUBTED_NUMBERS", False)
    assert read((90, 90)) == ""


def test_a_doubted_digit_alone_on_the_page_is_read(monkeypatch):
    """A bar the judge doubts, the only piece of digit height on the page (a speck beside it
    changes nothing): read. Beside a shape of its height that is no digit, or with the rule
    off, not; nor is a shape alone that the judge finds no digit."""
    judge = DoubtingThickJudge()

    def read(speck: bool = False, letter: bool = False, bar: bool = True) -> str:
        canvas = paper.paper(480, 640)
        if bar:
            draw_doubted_bar(canvas, 150)
        if speck:  # 12 px: under 0.4 of the bar's height
            cv2.rectangle(canvas, (300, 270), (311, 281), 30.0, -1)
        if letter:  # 50 px tall: over 0.4 of it
            cv2.rectangle(canvas, (280, 240), (400, 289), 30.0, -1)
        return read_number(paper.finish(canvas), judge).text

    assert read() == read(speck=True) == "1"
    assert read(letter=True) == read(bar=False, letter=True) == ""
    monkeypatch.setattr(segment, "_LONE_DOUBTED_DIGIT", False)
    assert read() == ""


def test_read_digits_say_whether_the_rule_accepts_them_alone():
    """A doubted digit is read because its number vouches for it, not accepted."""
    canvas = paper.paper(480, 640)
    for index in range(2):
        draw_doubted_bar(canvas, 150 + 60 * index, 90)
    doubted = read_number(paper.finish(canvas), DoubtingThickJudge())
    assert doubted.text == "11"
    assert [digit.prediction.accepted for digit in doubted.digits] == [False, False]
    clear = read_number(bars([30]), InkAspectJudge())
    assert clear.text == "11"
    assert [digit.prediction.accepted for digit in clear.digits] == [True, True]


def test_blank_frames_do_not_call_the_classifier():
    judge = InkAspectJudge()
    for frame in (paper.blank_frame(), paper.gradient_frame(), paper.ruled_frame()):
        assert read_number(paper.finish(frame), judge).digits == ()
    assert judge.calls == 0


def test_frame_candidates_choose_follows_the_acceptance_rule(monkeypatch):
    frame = FrameCandidates(bars([30]))
    probabilities = InkAspectJudge().predict_proba(np.stack([r.image for r in frame.regions]))
    assert len(frame.choose(probabilities, lambda confidence, digit: confidence >= 0.5)) == 2
    # Two digits doubted together are a doubted number, read; without that rule, not.
    assert len(frame.choose(probabilities, lambda confidence, digit: confidence >= 0.99)) == 2
    monkeypatch.setattr(segment, "_DOUBTED_NUMBERS", False)
    assert frame.choose(probabilities, lambda confidence, digit: confidence >= 0.99) == []
    # The judge reads the bars as 1s: the rule is asked about the digit it would accept.
    assert (
        frame.choose(probabilities, lambda confidence, digit: confidence >= 0.5 and digit != 1)
        == []
    )


# --- reading real pages with a trained model (slow: the model is trained) --------------------


@pytest.fixture(scope="module")
def classifier(tflite_models, reading_threshold):
    from runtime.classifier import DigitClassifier

    return DigitClassifier(tflite_models["int8"], threshold=reading_threshold)


@pytest.mark.slow
def test_a_digit_on_noisy_ruled_paper_is_read(classifier, sources):
    items = [i for i in camera_items(sources, 60, paper="ruled") if len(i.text) == 1][:12]
    exact = sum(read_number(item.image, classifier).text == item.text for item in items)
    # A regression floor: the 6-epoch test model reads 6 of these 12 and the main job's
    # model 9 (both miss two thin 1s); bench_reading measures the real rate.
    assert len(items) == 12 and exact >= 5, exact


@pytest.mark.slow
def test_a_touching_pair_is_split_and_read(classifier, sources):
    items = camera_items(sources, 12, spacing="touching pair")
    right = total = 0
    for item in items:
        read = read_number(item.image, classifier)
        boxes = [digit.region.box for digit in read.digits]
        for truth, label in zip(item.boxes, item.text, strict=True):
            total += 1
            right += any(
                share_inside(box, truth) >= 0.6 and str(digit.prediction.digit) == label
                for box, digit in zip(boxes, read.digits, strict=True)
            )
    # A regression floor with a digit or two of slack for training's run-to-run variation: the
    # 6-epoch test model reads 23 of these 34 digits (25 before a 1 needed a stricter bar) and
    # the main job's model 30 (with the bar or without it); bench_reading measures the real
    # rate on touching pairs.
    assert right >= 0.6 * total, (right, total)


@pytest.mark.slow
def test_handwritten_words_read_as_nothing(classifier, sources):
    items = digit_free_items(sources, "words", 20)
    false = sum(len(read_number(item.image, classifier).digits) for item in items)
    # A regression floor: the 6-epoch test model reads 1.55 false digits per frame of words
    # here and the main job's model 0.45; without the word rule it is about 6, and the kit's
    # first design gave 4.2 (bench_reading measures the real rate, 0.22 on its report split).
    assert false <= 2.0 * len(items), false


def test_reading_without_a_classifier_says_what_it_needs():
    frame = np.full((120, 160), 255, np.uint8)
    with pytest.raises(TypeError, match=r"classifier must be a runtime\.DigitClassifier"):
        segment.read_number(frame, None)
