"""The camera demo: synthetic video, sources, smoothing, pipeline, CLI (headless) and its failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_demo import cli, synth
from camera_demo.frames import to_bgr8, to_gray8
from camera_demo.output import save_snapshot
from camera_demo.overlay import draw_overlay
from camera_demo.pipeline import DigitReading, FramePipeline, FrameReading, parse_roi
from camera_demo.smoothing import TemporalSmoother, box_iou
from camera_demo.sources import (
    CaptureSource,
    FrameSource,
    ImageFolderSource,
    RetryPolicy,
    SourceError,
    open_source,
)
from runtime.errors import ImageError

MATCH_IOU = 0.5
VIDEO_FRAMES = 360
VIDEO_HOLD = 6  # 60 pages, about 150 different MNIST digits


# ---------------------------------------------------------------- helpers


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def score(records: list[dict], truths: list[synth.FrameTruth]) -> tuple[float, float]:
    """Per-digit accuracy (a truth digit counts when a reading with the same label overlaps it)
    and the fraction of frames whose number string is exactly right."""
    assert [r["frame"] for r in records] == [t.frame for t in truths]
    correct = total = exact = 0
    for record, truth in zip(records, truths, strict=True):
        for digit in truth.digits:
            total += 1
            correct += any(
                read["digit"] == digit.digit and box_iou(tuple(read["box"]), digit.box) >= MATCH_IOU
                for read in record["digits"]
            )
        exact += record["number"] == truth.number
    return correct / total, exact / len(truths)


class FakeCapture:
    """Stands in for cv2.VideoCapture: replays ``results`` ((ok, frame) pairs), then fails."""

    def __init__(self, results: list[tuple[bool, np.ndarray | None]], opened: bool = True) -> None:
        self.results = list(results)
        self.opened = opened
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        return self.results.pop(0) if self.results else (False, None)

    def release(self) -> None:
        self.released = True


class ListSource(FrameSource):
    """A finite in-memory source that records whether it was closed."""

    description = "test frames"

    def __init__(self, images: list[np.ndarray], interrupt_at: int | None = None) -> None:
        super().__init__()
        self.images = list(images)
        self.interrupt_at = interrupt_at
        self.closed = False

    def _next_image(self):
        if self.interrupt_at is not None and self._count == self.interrupt_at:
            raise KeyboardInterrupt
        return (self.images.pop(0), "") if self.images else None

    def close(self) -> None:
        self.closed = True


def page_frame(mnist, indices: list[int], seed: int = 0) -> tuple[np.ndarray, synth.FrameTruth]:
    """One synthetic camera frame holding the given MNIST test digits, left to right."""
    rng = np.random.default_rng(seed)
    page = synth.render_page(rng, mnist.x_test, mnist.y_test, indices=indices)
    view, digits = synth.camera_view(page, rng)
    return view, synth.FrameTruth(0, digits)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def video(tmp_path_factory, mnist) -> tuple[Path, list[synth.FrameTruth]]:
    path = tmp_path_factory.mktemp("video") / "sample.mp4"
    truth_path = synth.write_video(
        path, mnist.x_test, mnist.y_test, VIDEO_FRAMES, seed=11, hold=VIDEO_HOLD
    )
    return path, synth.load_truth(truth_path)


@pytest.fixture(scope="module")
def model(tflite_models) -> Path:
    """The int8 model the device runs. Building it trains and converts, so its users are slow."""
    return Path(tflite_models["int8"])


# ---------------------------------------------------------------- synth


def test_synth_writes_video_and_ground_truth(tmp_path, mnist_path, mnist):
    out = tmp_path / "clip.avi"
    code = synth.main(
        [str(out), "--frames", "20", "--seed", "3", "--hold", "5", "--data", str(mnist_path)]
    )
    assert code == 0
    truth = json.loads(out.with_suffix(".json").read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi", "clip.json"]  # no temp files

    capture = cv2.VideoCapture(str(out))
    frames = []
    while (item := capture.read())[0]:
        frames.append(item[1])
    capture.release()
    assert len(frames) == len(truth["frames"]) == 20
    assert frames[0].shape == (480, 640, 3)

    for frame, entry in zip(frames, truth["frames"], strict=True):
        assert 1 <= len(entry["digits"]) <= synth.MAX_DIGITS
        assert entry["number"] == "".join(str(d["digit"]) for d in entry["digits"])
        xs = [d["box"][0] for d in entry["digits"]]
        assert xs == sorted(xs)  # left to right
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        for d in entry["digits"]:
            assert d["digit"] == mnist.y_test[d["mnist_index"]]
            x, y, w, h = d["box"]
            assert min(x, y) >= 0 and x + w <= 640 and y + h <= 480
            assert gray[y : y + h, x : x + w].min() < gray.mean() - 60  # dark ink on light paper
    # An arrangement is held for --hold frames, then the page changes.
    indices = [[d["mnist_index"] for d in e["digits"]] for e in truth["frames"]]
    assert indices[0] == indices[4] and indices[5] == indices[9]
    assert indices[4] != indices[5]


def test_synth_rejects_a_container_it_cannot_encode(tmp_path, mnist_path, capsys):
    code = synth.main([str(tmp_path / "clip.mkv"), "--frames", "2", "--data", str(mnist_path)])
    assert code == 1
    assert ".mp4" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- reading the synthetic video


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
    assert digit_accuracy >= 0.95, f"per-digit accuracy {digit_accuracy:.3f}"
    assert number_accuracy >= 0.90, f"exact number strings {number_accuracy:.3f}"

    for record in records:
        assert set(record["ms"]) >= {"read", "find", "classify", "smooth", "total"}
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


# ---------------------------------------------------------------- temporal smoothing


def test_smoother_steadies_a_flickering_label():
    smoother = TemporalSmoother(window=5)
    crop = np.zeros((28, 28), np.uint8)
    crop[6:22, 12:16] = 255
    steady, flicker = np.eye(10, dtype=np.float32)[1] * 0.7, np.eye(10, dtype=np.float32)[7] * 0.6
    labels = []
    for frame in range(12):
        probs = (flicker if frame % 3 == 2 else steady)[None]
        box = (100 + frame % 2, 50, 20, 40)  # the camera shakes by a pixel
        (result,) = smoother.update([box], [crop], probs)
        labels.append(int(result.probabilities.argmax()))
    assert labels == [1] * 12
    assert result.frames == 5


def test_smoother_does_not_carry_labels_to_a_new_digit_in_the_same_place():
    smoother = TemporalSmoother(window=5)
    one = np.zeros((28, 28), np.uint8)
    one[6:22, 12:16] = 255
    zero = np.zeros((28, 28), np.uint8)
    cv2.circle(zero, (14, 14), 8, 255, 3)
    box = (100, 50, 20, 40)
    for _ in range(5):
        (first,) = smoother.update([box], [one], np.eye(10, dtype=np.float32)[1][None])
    (second,) = smoother.update([box], [zero], np.eye(10, dtype=np.float32)[0][None])
    assert second.track != first.track
    assert int(second.probabilities.argmax()) == 0


def test_smoother_forgets_tracks_and_rejects_bad_window():
    smoother = TemporalSmoother(window=2)
    crop = np.full((28, 28), 9, np.uint8)
    crop[5:20, 5:9] = 200
    (a,) = smoother.update([(0, 0, 10, 10)], [crop], np.ones((1, 10), np.float32) / 10)
    for _ in range(3):
        smoother.update([], [], np.zeros((0, 10), np.float32))
    (b,) = smoother.update([(0, 0, 10, 10)], [crop], np.ones((1, 10), np.float32) / 10)
    assert b.track != a.track
    with pytest.raises(ValueError, match="at least 1"):
        TemporalSmoother(window=0)


# ---------------------------------------------------------------- frames of any kind


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((1, 1), np.uint8),
        np.zeros((3, 7, 1), np.uint8),
        np.full((5, 9, 3), 200, np.uint8),
        np.full((6, 4, 4), 90, np.uint8),
        np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 16,
        np.linspace(0, 1, 30 * 20, dtype=np.float32).reshape(20, 30),
        np.ones((8, 8), bool),
    ],
    ids=["1x1", "gray-1ch", "bgr", "bgra", "gray16", "float", "bool"],
)
def test_frames_normalize_to_8_bit(frame):
    gray = to_gray8(frame)
    assert gray.dtype == np.uint8 and gray.shape == frame.shape[:2]
    assert gray.flags.c_contiguous
    view = to_bgr8(frame)
    assert view.dtype == np.uint8 and view.shape == (*frame.shape[:2], 3)


def test_sixteen_bit_frames_keep_their_contrast():
    # 12-bit sensor data in a 16-bit container: stretched, not divided down to near black.
    frame = np.full((10, 10), 3000, np.uint16)
    frame[2:8, 4:6] = 200
    gray = to_gray8(frame)
    assert gray.max() == 255 and gray.min() == 0


@pytest.mark.parametrize(
    "frame", [np.zeros((0, 5), np.uint8), np.zeros((4, 4, 2), np.uint8), np.zeros(5, np.uint8)]
)
def test_frames_that_are_not_images_raise_image_error(frame):
    with pytest.raises(ImageError):
        to_gray8(frame)


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
def test_fixed_roi_reads_one_digit_per_box(model, mnist):
    from runtime.classifier import DigitClassifier

    view, truth = page_frame(mnist, [3, 2], seed=4)
    rois = []
    for digit in truth.digits:
        x, y, w, h = digit.box
        rois.append((max(0, x - 8), max(0, y - 8), w + 16, h + 16))
    rois.append((630, 470, 50, 50))  # partly outside the frame and blank: no digit
    pipeline = FramePipeline(DigitClassifier(model), rois=rois, smoothing=1)
    reading = pipeline.process(view, 0)
    assert reading.number == truth.number
    assert [d.box for d in reading.digits] == rois[:2]
    assert parse_roi("1,2,3,4") == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="x,y,w,h"):
        parse_roi("1,2,3")


# ---------------------------------------------------------------- sources


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


def test_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(SourceError, match="holds no image files"):
        ImageFolderSource(tmp_path)


def test_failing_camera_retries_with_backoff_then_raises():
    sleeps: list[float] = []
    opened: list[FakeCapture] = []

    def open_capture() -> FakeCapture:
        opened.append(FakeCapture([]))
        return opened[-1]

    policy = RetryPolicy(attempts=4, first_delay=0.05, factor=2.0, max_delay=0.3)
    source = CaptureSource(open_capture, "camera 0", live=True, retry=policy, sleep=sleeps.append)
    with pytest.raises(SourceError, match="camera 0 stopped delivering frames: 5 reads failed"):
        source.read()
    assert sleeps == [0.05, 0.1, 0.2, 0.3]
    assert len(opened) > 1 and all(c.released for c in opened[:-1])  # reopened the device
    source.close()
    assert opened[-1].released


def test_camera_recovers_when_a_retry_succeeds():
    frame = np.zeros((4, 4, 3), np.uint8)
    capture = FakeCapture([(False, None), (True, frame), (True, frame)])
    sleeps: list[float] = []
    with CaptureSource(lambda: capture, "camera 1", True, RetryPolicy(), sleeps.append) as source:
        first, second = source.read(), source.read()
    assert (first.index, second.index) == (0, 1)
    assert sleeps == [0.1]
    assert capture.released


def test_camera_that_cannot_open_is_a_clear_error():
    capture = FakeCapture([], opened=False)
    with pytest.raises(SourceError, match="cannot open camera 0: check that it is connected"):
        CaptureSource(lambda: capture, "camera 0", live=True)
    assert capture.released


def test_video_file_ends_without_retrying():
    capture = FakeCapture([(True, np.zeros((2, 2), np.uint8))])
    source = CaptureSource(lambda: capture, "video file x.mp4", live=False, sleep=pytest.fail)
    assert len(list(source)) == 1


@pytest.mark.slow
def test_cli_reports_a_dead_camera_and_exits_non_zero(model, monkeypatch, capsys):
    def dead_camera(spec, camera_size, retry):
        return CaptureSource(
            lambda: FakeCapture([]), f"camera {spec}", True, retry, sleep=lambda s: None
        )

    monkeypatch.setattr(cli, "open_source", dead_camera)
    code = cli.main(["--model", str(model), "--source", "0", "--headless", "--retries", "2"])
    assert code == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "retry 1/2" in err and "retry 2/2" in err
    assert "error: camera 0 stopped delivering frames" in err


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("no/such/video.mp4", "source 'no/such/video.mp4' not found"),
        ("/dev/video97", "camera device /dev/video97 does not exist"),
    ],
)
@pytest.mark.slow
def test_cli_missing_source_is_a_clear_error(model, source, message, capsys):
    assert cli.main(["--model", str(model), "--source", source, "--headless"]) == cli.EXIT_ERROR
    assert message in capsys.readouterr().err


def test_cli_missing_model_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "missing.tflite"
    assert (
        cli.main(["--model", str(missing), "--source", str(tmp_path), "--headless"])
        == cli.EXIT_ERROR
    )
    err = capsys.readouterr().err
    assert "error:" in err and "missing.tflite" in err
    assert "Traceback" not in err


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model", "m.tflite", "--roi", "1,2,three,4"])
    assert exit_info.value.code == 2
    assert "x,y,w,h" in capsys.readouterr().err


def test_picamera_without_picamera2_explains_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes the import fail
    with pytest.raises(SourceError, match="sudo apt install python3-picamera2"):
        open_source("picamera")


@pytest.mark.slow
def test_ctrl_c_releases_the_source_and_exits_130(model, monkeypatch, capsys):
    source = ListSource([np.full((48, 64), 220, np.uint8)] * 5, interrupt_at=2)
    monkeypatch.setattr(cli, "open_source", lambda *args: source)
    code = cli.main(["--model", str(model), "--source", "0", "--headless"])
    assert code == cli.EXIT_INTERRUPTED
    assert source.closed
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert "interrupted: 2 frames" in err


# ---------------------------------------------------------------- display, keys, overlay


@pytest.mark.slow
def test_no_display_falls_back_to_headless(model, video, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    code = cli.main(["--model", str(model), "--source", str(video[0]), "--max-frames", "2"])
    assert code == 0
    out, err = capsys.readouterr()
    assert "no display available" in err and "running headless" in err
    assert len(out.splitlines()) == 2


@pytest.mark.slow
def test_opencv_without_gui_falls_back_to_headless(model, video, monkeypatch, capsys):
    def no_gui(*args, **kwargs):
        raise cv2.error("The function is not implemented. Rebuild the library with GTK+ support")

    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(cv2, "namedWindow", no_gui)
    code = cli.main(["--model", str(model), "--source", str(video[0]), "--max-frames", "2"])
    assert code == 0
    out, err = capsys.readouterr()
    assert "OpenCV cannot open a window" in err and "running headless" in err
    assert len(out.splitlines()) == 2


class FakeWindow:
    """A window that 'presses' the given keys, one per shown frame (-1 = none)."""

    def __init__(self, keys: list[int]) -> None:
        self.keys = list(keys)
        self.shown: list[np.ndarray] = []
        self.closed = False

    def show(self, view: np.ndarray, wait_ms: int = 1) -> int:
        self.shown.append(view)
        return self.keys.pop(0) if self.keys else -1

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.closed = True


@pytest.mark.slow
def test_window_keys_snapshot_pause_and_quit(model, video, monkeypatch, tmp_path, capsys):
    window = FakeWindow([-1, ord("s"), ord(" "), -1, ord(" "), -1, ord("q")])
    monkeypatch.setattr(cli, "_open_window", lambda headless: window)
    snapshots = tmp_path / "snaps"
    code = cli.main(
        ["--model", str(model), "--source", str(video[0]), "--snapshot-dir", str(snapshots)]
    )
    assert code == 0
    assert window.closed
    # 7 key polls: frames 0, 1 (s), 2 (space), one paused poll, space again, frames 3, 4 (q).
    assert len(window.shown) == 7
    assert np.array_equal(window.shown[3], window.shown[4])  # paused: the same view again
    saved = sorted(snapshots.iterdir())
    assert len(saved) == 2
    assert saved[0].name.endswith("-000001-overlay.png") and saved[1].name.endswith("-000001.png")
    assert all(cv2.imread(str(p)).shape == (480, 640, 3) for p in saved)
    err = capsys.readouterr().err
    assert "snapshot saved" in err and "quit: 5 frames" in err


def test_overlay_draws_boxes_labels_and_number():
    frame = np.full((240, 320, 3), 200, np.uint8)
    reading = FrameReading(0, (DigitReading(7, 0.97, (100, 100, 30, 50), 0),))
    view = draw_overlay(frame.copy(), reading, fps=123.0)
    assert (view[100, 100:130] != 200).any()  # the box outline
    assert (view[:40, :80] != 200).any()  # the number, top left
    assert (view[:30, -80:] != 200).any()  # the FPS, top right
    tiny = draw_overlay(np.zeros((5, 5, 3), np.uint8), reading)
    assert tiny.shape == (5, 5, 3)


def test_snapshot_is_written_atomically(tmp_path):
    frame = np.random.default_rng(0).integers(0, 65535, (20, 30), dtype=np.uint16)
    path = save_snapshot(tmp_path, 7, frame, np.zeros((20, 30, 3), np.uint8))
    assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name, path.name.replace(".png", "-overlay.png")]
    )


@pytest.mark.slow
def test_sigterm_stops_cleanly(model, monkeypatch, capsys):
    import os
    import signal

    class TerminatedSource(ListSource):
        def _next_image(self):
            if self._count == 1:
                os.kill(os.getpid(), signal.SIGTERM)  # as `systemctl stop` does
            return super()._next_image()

    source = TerminatedSource([np.full((48, 64), 220, np.uint8)] * 5)
    monkeypatch.setattr(cli, "open_source", lambda *args: source)
    assert cli.main(["--model", str(model), "--source", "0", "--headless"]) == 0
    assert source.closed
    assert "stopped by SIGTERM: 1 frames" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is not cli._raise_stop  # handler restored


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
        if previous is None or r["number"] != previous["number"]
    ]
    assert [r["frame"] for r in read_jsonl(changes)] == expected
    assert 1 < len(expected) < 40
