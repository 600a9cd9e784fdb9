"""The camera demo reading real digits with a trained model (slow: the model is trained), and
reading what the reader chose (fast: a stand-in classifier)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from camera_fakes import VIDEO_HOLD, page_frame, read_jsonl, score, write_sample_video

from camera_demo import cli, synth
from camera_demo.output import frame_record
from camera_demo.pipeline import FramePipeline, FrameReading, parse_roi
from camera_demo.smoothing import box_iou
from camera_demo.sources import (
    open_source,
)

VIDEO_FRAMES = 360


@pytest.fixture(scope="module")
def video(tmp_path_factory, mnist) -> tuple[Path, list[synth.FrameTruth]]:
    return write_sample_video(tmp_path_factory.mktemp("video"), mnist, VIDEO_FRAMES)


@pytest.fixture(scope="module")
def model(tflite_models) -> Path:
    """The int8 model the device runs. Building it trains and converts, so its users are slow."""
    return Path(tflite_models["int8"])


@pytest.mark.slow
def test_reads_synthetic_video_headless(video, model, tmp_path, capsys):
    path, truths = video
    jsonl = tmp_path / "readings.jsonl"
    code = cli.main(
        ["--model", str(model), "--source", str(path), "--headless", "--jsonl", str(jsonl)]
    )
    assert code == 0
    records = read_jsonl(jsonl)
    digit_accuracy, number_accuracy = score(records, truths)
    # Regression floors, not targets (those are bench_reading's): on this video the 6-epoch
    # test model measured 0.775 / 0.606 and the main job's model 0.875 / 0.761. Most misses are
    # numbers with one digit the model cannot read, which the word rule then takes for a word
    # (issue 9, open).
    assert digit_accuracy >= 0.72, f"per-digit accuracy {digit_accuracy:.3f}"
    assert number_accuracy >= 0.55, f"exact number strings {number_accuracy:.3f}"

    for record in records:
        assert set(record["ms"]) == {"wait", "convert", "read", "smooth", "total"}
        assert all(value >= 0 for value in record["ms"].values())
        assert all(0.0 <= d["confidence"] <= 1.0 for d in record["digits"])
    err = capsys.readouterr().err
    assert f"end of video file {path}: {VIDEO_FRAMES} frames" in err
    assert "most common numbers" in err


def label_flips(records: list[dict], truths: list[synth.FrameTruth]) -> int:
    """How often a digit held still on the page changes its label from one frame to the next."""
    flips = 0
    previous: dict[tuple[int, int], int | None] = {}
    for record, truth in zip(records, truths, strict=True):
        page = truth.frame // VIDEO_HOLD
        for slot, digit in enumerate(truth.digits):
            label = next(
                (
                    r["digit"]
                    for r in record["digits"]
                    if box_iou(tuple(r["box"]), digit.box) >= 0.5
                ),
                None,
            )
            key = (page, slot)
            flips += key in previous and previous[key] != label
            previous[key] = label
    return flips


@pytest.mark.slow
def test_smoothing_adds_no_flicker_on_video(video, model):
    """Smoothing must never add flicker or cost accuracy on a real video. (How much flicker it
    removes depends on how many borderline digits the model has; the smoother's own tests
    check the removal itself.)"""
    from runtime.classifier import DigitClassifier

    path, truths = video
    classifier = DigitClassifier(model)
    flips, accuracy = {}, {}
    for window in (1, 5):
        pipeline = FramePipeline(classifier, smoothing=window)
        with open_source(str(path)) as source:
            records = [_as_record(f.index, pipeline.process(f.image, f.index)) for f in source]
        flips[window] = label_flips(records, truths)
        accuracy[window] = score(records, truths)[0]
    assert flips[5] <= flips[1]
    assert accuracy[5] >= accuracy[1] - 0.01


def _as_record(index: int, reading: FrameReading) -> dict:
    digits = [d.to_json() for d in reading.digits]
    return {"frame": index, "digits": digits, "number": reading.number}


@pytest.mark.slow
def test_max_frames_and_stdout_output(video, model, capsys):
    path, _ = video
    code = cli.main(
        ["--model", str(model), "--source", str(path), "--headless", "--max-frames", "3"]
    )
    assert code == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["frame"] for r in records] == [0, 1, 2]
    assert "stopped after --max-frames 3" in err


@pytest.mark.slow
def test_pipeline_reads_frames_of_any_size_and_channels(model, mnist):
    from runtime.classifier import DigitClassifier

    pipeline = FramePipeline(DigitClassifier(model), smoothing=1)
    view, truth = page_frame(mnist, [3, 2, 1])  # MNIST test digits 0, 1, 2
    variants = {
        "bgr": view,
        "bgra": cv2.cvtColor(view, cv2.COLOR_BGR2BGRA),
        "gray": cv2.cvtColor(view, cv2.COLOR_BGR2GRAY),
        "gray16": cv2.cvtColor(view, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257,
        "gray-1ch": cv2.cvtColor(view, cv2.COLOR_BGR2GRAY)[:, :, None],
    }
    for name, frame in variants.items():
        assert pipeline.process(frame, 0).number == truth.number, name
    big = cv2.resize(view, (1920, 1440), interpolation=cv2.INTER_LINEAR)
    assert pipeline.process(big, 0).number == truth.number
    for tiny in (np.zeros((1, 1), np.uint8), np.full((7, 3, 3), 255, np.uint8)):
        assert pipeline.process(tiny, 0).digits == ()


@pytest.mark.slow
def test_fixed_roi_reads_one_digit_per_box(model, mnist, caplog, reading_threshold):
    from runtime.classifier import DigitClassifier
    from runtime.images import as_gray_u8
    from runtime.preprocess import preprocess

    view, truth = page_frame(mnist, [3, 2], seed=4)
    rois = []
    for digit in truth.digits:
        x, y, w, h = digit.box
        rois.append((max(0, x - 8), max(0, y - 8), w + 16, h + 16))
    rois.append((630, 470, 50, 50))  # partly outside the frame and blank: no digit
    rois.append((700, 500, 10, 10))  # wholly outside: said once, reads nothing
    classifier = DigitClassifier(model, threshold=reading_threshold)
    pipeline = FramePipeline(classifier, rois=rois, smoothing=1)
    with caplog.at_level(logging.WARNING, logger="camera_demo"):
        reading = pipeline.process(view, 0)
        pipeline.process(view, 1)
    # Each box is one digit, prepared and judged alone: the model's top-1 is the digit written,
    # and the box is read when the acceptance rule takes it (the 6-epoch test model is not
    # sure enough of this 1 for a 1's stricter bar; the main job's model reads "01").
    gray = as_gray_u8(view)
    alone = [
        classifier.predict(preprocess(gray[y : y + h, x : x + w], "auto"))
        for x, y, w, h in rois[:2]
    ]
    assert [p.digit for p in alone] == [d.digit for d in truth.digits]
    accepted = [(p.digit, roi) for p, roi in zip(alone, rois, strict=False) if p.accepted]
    assert accepted and [(d.digit, d.box) for d in reading.digits] == accepted
    outside = [r.getMessage() for r in caplog.records if "outside" in r.getMessage()]
    assert outside == [
        f"--roi 700,500,10,10 lies outside the {view.shape[1]}x{view.shape[0]} frame: it reads nothing"
    ]
    assert parse_roi("1,2,3,4") == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="x,y,w,h"):
        parse_roi("1,2,3")


@pytest.mark.slow
def test_image_folder_source_reports_and_skips_unreadable_files(tmp_path, mnist, model, capsys):
    view, truth = page_frame(mnist, [3, 2, 1], seed=2)
    folder = tmp_path / "frames"
    folder.mkdir()
    gray = cv2.cvtColor(view, cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(folder / "frame10.png"), cv2.cvtColor(view, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / "frame2.png"), gray.astype(np.uint16) * 257)  # 16-bit gray
    cv2.imwrite(str(folder / "frame1.jpg"), view)
    (folder / "frame3.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (folder / "notes.txt").write_text("not an image")
    jsonl = tmp_path / "out.jsonl"

    code = cli.main(
        ["--model", str(model), "--source", str(folder), "--headless", "--jsonl", str(jsonl)]
    )
    assert code == 0
    records = read_jsonl(jsonl)
    assert [r["file"] for r in records] == ["frame1.jpg", "frame2.png", "frame10.png"]
    assert [r["number"] for r in records] == [truth.number] * 3
    err = capsys.readouterr().err
    assert "skipping" in err and "frame3.png" in err
    assert "1 unreadable file skipped" in err


@pytest.mark.slow
def test_changes_only_writes_a_record_when_the_number_changes(video, model, tmp_path):
    path, _ = video
    every, changes = tmp_path / "every.jsonl", tmp_path / "changes.jsonl"
    args = ["--model", str(model), "--source", str(path), "--headless", "--max-frames", "40"]
    assert cli.main([*args, "--jsonl", str(every)]) == 0
    assert cli.main([*args, "--jsonl", str(changes), "--changes-only"]) == 0
    all_records = read_jsonl(every)
    expected = [
        r["frame"]
        for previous, r in zip([None, *all_records], all_records, strict=False)
        if previous is None or r["numbers"] != previous["numbers"]
    ]
    assert [r["frame"] for r in read_jsonl(changes)] == expected
    assert 1 < len(expected) < 40


class _DoubtingJudge:
    """A classifier whose confidence varies with each crop's ink, so that some digits of a
    number are clear and others doubted (accepted below 0.9 only beside clear ones)."""

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        rows = np.full((len(batch), 10), 0.0, np.float32)
        for row, crop in zip(rows, batch, strict=True):
            ink = int(crop.astype(np.int64).sum())
            confidence = (0.6, 0.8, 0.99)[ink % 3]
            row[:] = (1 - confidence) / 9
            row[ink % 10] = confidence
        return rows

    def accepts(self, confidence: float, digit: int) -> bool:
        return confidence >= 0.9


def test_the_camera_demo_reads_what_the_reader_chose(mnist):
    from runtime import read_number

    judge = _DoubtingJudge()
    pipeline = FramePipeline(judge, smoothing=1)  # type: ignore[arg-type]
    doubted = 0
    for seed in range(6):
        view, _ = page_frame(mnist, [3, 2, 1, 0], seed=seed)
        expected = read_number(view, judge)
        assert pipeline.process(view, seed).number == expected.text
        doubted += sum(
            not judge.accepts(d.prediction.confidence, d.prediction.digit) for d in expected.digits
        )
    assert doubted > 0  # the case this test is about did occur


class _SureJudge(_DoubtingJudge):
    """Reads every crop as a sure digit (which one follows its ink)."""

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        rows = np.full((len(batch), 10), 0.001, np.float32)
        rows[np.arange(len(batch)), batch.astype(np.int64).sum(axis=(1, 2)) % 10] = 0.991
        return rows


def test_the_camera_demo_reads_the_numbers_of_a_page_apart(mnist):
    """Two written rows are two numbers, grouped as ``read_number`` groups them; ``number``
    still runs every digit together."""
    from runtime import read_number

    judge = _SureJudge()
    pipeline = FramePipeline(judge, smoothing=1)  # type: ignore[arg-type]
    for seed in range(3):
        top, _ = page_frame(mnist, [3, 2, 1], seed=seed)
        bottom, _ = page_frame(mnist, [7, 4], seed=seed + 10)
        page = np.vstack([top, bottom])
        expected = read_number(page, judge)
        reading = pipeline.process(page, seed)
        assert len(expected.numbers) >= 2
        assert reading.numbers == expected.numbers
        assert reading.shown == " ".join(expected.numbers)
        assert reading.number == expected.text
        record = frame_record(reading, {})
        assert record["numbers"] == list(expected.numbers)
        assert record["number"] == expected.text


class _RecordingJudge(_DoubtingJudge):
    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        self.seen.extend(batch)
        return super().predict_proba(batch)


def test_an_roi_crop_guesses_its_polarity_unless_told(mnist):
    from runtime import preprocess

    frame = np.zeros((120, 160), np.uint8)  # chalk on a board: a white digit on black
    frame[30:86, 50:106] = cv2.resize(mnist.x_test[0], (56, 56))
    roi = (40, 20, 80, 80)
    crop = frame[20:100, 40:120]
    for polarity, expected in ((None, "light_on_dark"), ("dark_on_light", "dark_on_light")):
        judge = _RecordingJudge()
        FramePipeline(judge, rois=[roi], smoothing=1, polarity=polarity).process(frame, 0)  # type: ignore[arg-type]
        np.testing.assert_array_equal(judge.seen[0], preprocess(crop, expected))


class _OneOrSevenJudge:
    """Reads a crop as a 1 when its ink is narrow, else as a 7, at ``confidence``; accepts by
    the kit's rule at threshold 0.9 (a 1 needs 0.973)."""

    def __init__(self, confidence: float) -> None:
        self.confidence = confidence

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        rows = np.full((len(batch), 10), 0.001, np.float32)
        for row, crop in zip(rows, batch, strict=True):
            columns = np.flatnonzero((crop > 64).any(axis=0))
            row[1 if columns[-1] - columns[0] < 10 else 7] = self.confidence
        return rows

    def accepts(self, confidence: float, digit: int) -> bool:
        from runtime.classifier import accepts

        return accepts(confidence, digit, 0.9)


def test_roi_cells_are_judged_by_their_digit_and_make_one_number_per_line():
    frame = np.full((120, 400), 235, np.uint8)
    cv2.line(frame, (60, 30), (60, 90), 20, 6)  # a 1 in the first cell
    cv2.line(frame, (330, 30), (370, 30), 20, 6)  # a 7 in the second, far to the right
    cv2.line(frame, (370, 30), (340, 90), 20, 6)
    cells = [(20, 20, 80, 80), (300, 20, 80, 80)]
    sure = FramePipeline(_OneOrSevenJudge(0.99), rois=cells, smoothing=1).process(frame, 0)
    assert [d.digit for d in sure.digits] == [1, 7]
    assert sure.numbers == ("17",)  # 200 px apart, yet one meter's number
    # At 0.95 a 7 clears the threshold (0.9) and a 1 does not clear its own bar (0.973).
    doubted = FramePipeline(_OneOrSevenJudge(0.95), rois=cells, smoothing=1).process(frame, 0)
    assert [d.digit for d in doubted.digits] == [7]


def test_a_doubted_digit_its_number_vouches_for_is_marked_not_accepted():
    """Two clear bars and a touching pair the judge doubts read "1111" (as digit-classify
    reads it); the JSON says which digits the acceptance rule accepts alone."""
    from test_segment import DoubtingThickJudge

    from camera_demo import paper

    canvas = paper.paper(480, 640)
    for x in (100, 160):  # hollow bars: clear 1s to this judge
        cv2.rectangle(canvas, (x, 200), (x + 44, 289), 30.0, -1)
        cv2.rectangle(canvas, (x + 12, 215), (x + 32, 274), 235.0, -1)
    for x in (220, 264):  # two bars with two holes each, touching: doubted 1s
        cv2.rectangle(canvas, (x, 200), (x + 47, 289), 30.0, -1)
        for top in (215, 250):
            cv2.rectangle(canvas, (x + 15, top), (x + 32, top + 24), 235.0, -1)
    pipeline = FramePipeline(DoubtingThickJudge(), smoothing=1)  # type: ignore[arg-type]
    record = frame_record(pipeline.process(paper.finish(canvas), 0), {})
    assert record["number"] == "1111"
    assert [d["accepted"] for d in record["digits"]] == [True, True, False, False]
