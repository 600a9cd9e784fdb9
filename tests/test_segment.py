"""runtime.segment: find the digits in a camera frame, read them as a number."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from camera_demo import paper as drawing
from runtime.classifier import Prediction
from runtime.segment import DigitRegion, NumberReading, find_digits, read_number, reading_order

PAGES = 12


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def ruled_page(
    mnist, rng: np.random.Generator, channels: int = 1
) -> tuple[drawing.Page, np.ndarray]:
    """2-6 MNIST test digits in a row on paper, a slightly tilted ruled line through their
    lower part, specks of dust, uneven light and sensor noise; and the digits' indices."""
    count = int(rng.integers(2, 7))
    field = min(int(rng.integers(60, 110)), 600 * 5 // (6 * count))  # the row fits the frame
    picks = rng.choice(len(mnist.x_test), count, replace=False)
    page = drawing.digit_page(
        list(mnist.x_test[picks]),
        list(mnist.y_test[picks]),
        field=field,
        spacing=field // 5,
        channels=channels,
    )
    base = page.boxes[0][1] + 0.8 * page.boxes[0][3]
    drawing.draw_ruled_line(page.canvas, base, slope=rng.uniform(-0.03, 0.03))
    drawing.add_specks(page.canvas, 15, rng)
    drawing.add_lighting(page.canvas, 0.4, rng)
    drawing.add_noise(page.canvas, 2.0, rng)
    return page, picks


def matches(regions: list[DigitRegion], page: drawing.Page) -> bool:
    """Same count, and each region overlaps the digit at its rank."""
    return len(regions) == len(page.boxes) and all(
        iou(region.box, box) >= 0.5 for region, box in zip(regions, page.boxes, strict=True)
    )


def test_digits_on_a_ruled_page_are_found_left_to_right(mnist):
    rng = np.random.default_rng(0)
    pages = [ruled_page(mnist, rng)[0] for _ in range(PAGES)]
    found = [find_digits(drawing.finish(page.canvas)) for page in pages]
    right = sum(matches(regions, page) for regions, page in zip(found, pages, strict=True))
    assert right >= PAGES - 1, [(len(r), len(p.boxes)) for r, p in zip(found, pages, strict=True)]
    for regions in found:
        lefts = [region.box[0] for region in regions]
        assert lefts == sorted(lefts)


def test_regions_hold_mnist_form_crops(mnist):
    page, _ = ruled_page(mnist, np.random.default_rng(3), channels=3)
    image = drawing.finish(page.canvas)
    regions = find_digits(image)
    assert regions
    for region in regions:
        assert region.image.shape == (28, 28) and region.image.dtype == np.uint8
        assert region.image.max() == 255 and region.image[0].max() == 0  # white on black
        x, y, w, h = region.box
        assert x >= 0 and y >= 0 and x + w <= image.shape[1] and y + h <= image.shape[0]
        with pytest.raises(dataclasses.FrozenInstanceError):
            region.box = (0, 0, 1, 1)


def test_two_lines_are_read_top_line_first(mnist):
    first = drawing.digit_page(list(mnist.x_test[:3]), list(mnist.y_test[:3]), field=80, top=60)
    second = drawing.digit_page(list(mnist.x_test[3:7]), list(mnist.y_test[3:7]), field=80, top=300)
    image = drawing.finish(np.minimum(first.canvas, second.canvas))
    boxes = [region.box for region in find_digits(image)]
    expected = first.boxes + second.boxes
    assert len(boxes) == len(expected)
    assert all(iou(a, b) >= 0.5 for a, b in zip(boxes, expected, strict=True))


def test_reading_order_groups_lines_by_vertical_overlap():
    boxes = [(300, 210, 40, 50), (10, 20, 30, 60), (100, 200, 30, 55), (200, 30, 35, 40)]
    assert reading_order(boxes) == [1, 3, 2, 0]
    assert reading_order([]) == []


def test_frames_are_searched_at_any_size_and_boxes_use_input_pixels(mnist):
    page = drawing.digit_page(
        list(mnist.x_test[10:14]),
        list(mnist.y_test[10:14]),
        size=(720, 1280),
        field=160,
        spacing=30,
        channels=3,
    )
    regions = find_digits(drawing.finish(page.canvas, np.uint16))
    assert len(regions) == 4
    assert all(iou(r.box, b) >= 0.7 for r, b in zip(regions, page.boxes, strict=True))


def test_a_digit_in_two_pieces_is_one_region(mnist):
    digit = mnist.x_test[0].copy()  # a 7, its bar lifted off the stem
    digit[11:13, :] = 0
    page = drawing.digit_page([digit, mnist.x_test[1]], [7, 2], field=100, spacing=30)
    regions = find_digits(drawing.finish(page.canvas))
    assert len(regions) == 2
    assert iou(regions[0].box, page.boxes[0]) >= 0.8


def test_touching_digits_are_split(mnist):
    picks = [1, 3, 5]  # 2, 1, 1
    page = drawing.digit_page(
        list(mnist.x_test[picks]), list(mnist.y_test[picks]), field=100, spacing=-40
    )
    mask = drawing.finish(page.canvas) < 128
    count, _ = cv2.connectedComponents(mask.astype(np.uint8))
    assert count - 1 < 3  # the drawing really makes some of them touch
    assert len(find_digits(drawing.finish(page.canvas))) == 3


def test_digits_too_small_or_touching_the_edge_are_ignored(mnist):
    tiny = drawing.digit_page([mnist.x_test[0]], [7], field=12)
    assert find_digits(drawing.finish(tiny.canvas)) == []
    cut = drawing.paper(480, 640)
    coverage = drawing.ink_coverage(mnist.x_test[0], 120)
    drawing.draw_ink(cut, coverage, -30, 150)  # half outside the frame
    assert find_digits(drawing.finish(cut)) == []


FRAMES_WITHOUT_DIGITS = {
    "blank paper": drawing.blank_frame,
    "uneven light": drawing.gradient_frame,
    "random noise": drawing.noise_frame,
    "textured table": drawing.texture_frame,
    "paper on a table": drawing.table_frame,
    "ruled paper": lambda rng: drawing.ruled_frame(slope=rng.uniform(-0.05, 0.05)),
}


@pytest.mark.parametrize("kind", sorted(FRAMES_WITHOUT_DIGITS))
def test_frames_without_digits_give_nothing(kind):
    make = FRAMES_WITHOUT_DIGITS[kind]
    for seed in range(4):
        rng = np.random.default_rng(seed)
        frame = make(rng) if kind == "ruled paper" else make(rng=rng)
        assert find_digits(drawing.finish(frame)) == [], (kind, seed)


def test_shadows_and_blobs_are_not_digits():
    rng = np.random.default_rng(0)
    shadow = drawing.paper(480, 640)
    drawing.add_shadow(shadow, 0.5, rng, softness=6.0)
    blob = drawing.paper(480, 640)
    cv2.ellipse(blob, (320, 240), (60, 80), 0, 0, 360, 40.0, -1)  # a thumb, a stain
    for frame in (shadow, blob):
        drawing.add_noise(frame, 2.0, rng)
        assert find_digits(drawing.finish(frame)) == []


def test_chalk_on_a_board_is_found_with_its_polarity(mnist):
    page = drawing.digit_page(
        list(mnist.x_test[20:24]),
        list(mnist.y_test[20:24]),
        field=90,
        spacing=20,
        paper_level=60.0,
        ink=220.0,
    )
    board = drawing.finish(page.canvas)
    for polarity in ("light_on_dark", "auto"):
        regions = find_digits(board, polarity=polarity)
        assert len(regions) == 4 and all(
            iou(r.box, b) >= 0.7 for r, b in zip(regions, page.boxes, strict=True)
        ), polarity


def test_invalid_height_limits_are_refused():
    with pytest.raises(ValueError, match="min_height"):
        find_digits(drawing.finish(drawing.blank_frame()), min_height=0.5, max_height=0.2)


class ScriptedClassifier:
    """Test double: answers ``predict_batch`` from a script and records each call."""

    def __init__(self, answers: list[tuple[int, float, bool]]) -> None:
        self.answers = answers
        self.calls: list[int] = []

    def predict_batch(self, images: list[np.ndarray]) -> list[Prediction]:
        self.calls.append(len(images))
        assert all(image.shape == (28, 28) for image in images)
        return [
            Prediction(digit, confidence, tuple([0.0] * 10), accepted)
            for digit, confidence, accepted in self.answers[: len(images)]
        ]


def test_read_number_classifies_all_digits_in_one_call(mnist):
    page = drawing.digit_page(list(mnist.x_test[:4]), list(mnist.y_test[:4]), field=90, spacing=20)
    classifier = ScriptedClassifier(
        [(4, 0.99, True), (1, 0.4, False), (2, 0.8, True), (7, 0.9, True)]
    )
    reading = read_number(drawing.finish(page.canvas), classifier)
    assert classifier.calls == [4]
    assert isinstance(reading, NumberReading)
    assert reading.text == "427"  # the rejected digit is left out of the text
    assert [item.prediction.digit for item in reading.digits] == [4, 1, 2, 7]
    assert [item.region.box[0] for item in reading.digits] == sorted(
        item.region.box[0] for item in reading.digits
    )
    strict = read_number(drawing.finish(page.canvas), classifier, min_confidence=0.85)
    assert strict.text == "47"


def test_read_number_on_a_blank_frame_does_not_call_the_classifier():
    classifier = ScriptedClassifier([])
    reading = read_number(drawing.finish(drawing.blank_frame()), classifier)
    assert reading == NumberReading(text="", digits=())
    assert classifier.calls == []


@pytest.mark.slow
def test_read_number_reads_pages_with_the_int8_model(mnist, tflite_models):
    """Digits found on ruled pages are classified about as well as the same MNIST digits
    untouched (at least 97% of that accuracy), and nearly every page is segmented right."""
    from runtime import DigitClassifier

    classifier = DigitClassifier(tflite_models["int8"])
    rng = np.random.default_rng(7)
    segmented, read, truth, used = 0, [], [], []
    for _ in range(40):
        page, picks = ruled_page(mnist, rng, channels=3)
        reading = read_number(drawing.finish(page.canvas), classifier, min_confidence=0.0)
        if len(reading.digits) == len(page.labels):
            segmented += 1
            read += [item.prediction.digit for item in reading.digits]
            truth += page.labels
            used += list(picks)
    untouched = classifier.predict_proba(mnist.x_test[used]).argmax(axis=1)
    baseline = float(np.mean(untouched == mnist.y_test[used]))
    accuracy = float(np.mean(np.array(read) == np.array(truth)))
    print(f"\n{segmented}/40 pages segmented right; accuracy {accuracy:.4f} vs {baseline:.4f}")
    assert segmented >= 38
    assert accuracy >= 0.97 * baseline
