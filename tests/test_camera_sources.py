"""camera_demo.sources: cameras, files, folders, picamera2, retries."""

from __future__ import annotations

import sys
import types
from typing import ClassVar

import numpy as np
import pytest
from camera_fakes import FakeCapture

from camera_demo.sources import (
    CaptureSource,
    ImageFolderSource,
    PiCameraSource,
    RetryPolicy,
    SourceError,
    open_source,
)


def test_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(SourceError, match="holds no image files"):
        ImageFolderSource(tmp_path)


@pytest.mark.opencv
def test_a_gif_in_a_folder_is_one_of_its_pictures(tmp_path):
    import cv2
    from PIL import Image

    Image.fromarray(np.full((16, 16), 30, np.uint8)).save(tmp_path / "b.gif")
    cv2.imwrite(str(tmp_path / "a.png"), np.full((16, 16), 200, np.uint8))
    source = ImageFolderSource(tmp_path)
    assert [path.name for path in source.paths] == ["a.png", "b.gif"]
    assert source.read() is not None
    if cv2.haveImageReader(str(tmp_path / "b.gif")):  # this OpenCV decodes GIFs
        frame = source.read()
        assert frame is not None and frame.image.max() == 30
    else:
        assert source.read() is None and source.skipped == [tmp_path / "b.gif"]


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


def test_a_stream_with_one_retry_is_reopened_and_its_error_says_what_to_check():
    opened: list[FakeCapture] = []

    def open_capture() -> FakeCapture:
        opened.append(FakeCapture([]))
        return opened[-1]

    policy = RetryPolicy(attempts=1, first_delay=0.01)
    source = CaptureSource(
        open_capture, "stream http://cam/x", True, policy, lambda s: None, stream=True
    )
    with pytest.raises(SourceError, match=r"2 reads failed.*Check the URL, the network"):
        source.read()
    assert len(opened) == 2  # the one retry reopened the stream (it never did with --retries 1)
    source.close()


def test_camera_recovers_when_a_retry_succeeds():
    frame = np.zeros((4, 4, 3), np.uint8)
    capture = FakeCapture([(False, None), (True, frame), (True, frame)])
    sleeps: list[float] = []
    with CaptureSource(lambda: capture, "camera 1", True, RetryPolicy(), sleeps.append) as source:
        first, second = source.read(), source.read()
    assert (first.index, second.index) == (0, 1)
    assert sleeps == [0.1]
    assert capture.released


def test_a_stream_that_drops_and_comes_back_warns_once(monkeypatch, caplog):
    # A dropped connection never delivers again: the first retry read it as it was, failed
    # a second time, and logged a second warning for the one drop before reopening.
    from camera_demo import sources

    frame = np.zeros((4, 4, 3), np.uint8)
    opened: list[FakeCapture] = []

    def open_capture() -> FakeCapture:
        opened.append(FakeCapture([(True, frame)] * (2 if not opened else 3)))  # then it drops
        return opened[-1]

    monkeypatch.setattr(sources, "_stream_capture", lambda url: open_capture)
    with (
        caplog.at_level("WARNING", logger="camera_demo"),
        open_source("http://cam/x", retry=RetryPolicy(first_delay=0.001)) as source,
    ):
        assert [source.read().index for _ in range(5)] == [0, 1, 2, 3, 4]
    failed = [r.getMessage() for r in caplog.records if "frame read failed" in r.getMessage()]
    assert len(failed) == 1 and "retry 1/5" in failed[0]
    assert len(opened) == 2 and opened[0].released


def test_camera_that_cannot_open_is_a_clear_error():
    capture = FakeCapture([], opened=False)
    with pytest.raises(SourceError, match="cannot open camera 0: check that it is connected"):
        CaptureSource(lambda: capture, "camera 0", live=True)
    assert capture.released


def test_video_file_ends_without_retrying():
    capture = FakeCapture([(True, np.zeros((2, 2), np.uint8))])
    source = CaptureSource(lambda: capture, "video file x.mp4", live=False, sleep=pytest.fail)
    assert len(list(source)) == 1


def _motion_jpeg_avi(path, frames: int) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for index in range(frames):
        writer.write(np.full((48, 64, 3), index * 4, np.uint8))
    writer.release()


def test_a_video_cut_short_is_named_and_a_whole_one_is_not(tmp_path, caplog):
    whole, cut = tmp_path / "whole.avi", tmp_path / "cut.avi"
    _motion_jpeg_avi(whole, 50)
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with caplog.at_level("WARNING", logger="camera_demo"), open_source(str(whole)) as source:
        assert len(list(source)) == 50
    assert not caplog.records
    with caplog.at_level("WARNING", logger="camera_demo"), open_source(str(cut)) as source:
        read = len(list(source))
    assert 0 < read < 50
    assert f"ended after {read} of the 50 frames its header announces" in caplog.text
    assert "cut short" in caplog.text


def test_a_file_url_and_a_path_with_spaces_are_the_files_they_name(tmp_path):
    video = tmp_path / " clip with spaces .avi"
    _motion_jpeg_avi(video, 5)
    with open_source(str(video)) as source:
        assert len(list(source)) == 5
    with open_source(video.as_uri()) as source:  # file:///.../%20clip%20with%20spaces%20.avi
        assert not source.live and len(list(source)) == 5


@pytest.mark.parametrize("spec", ["", "  "])
def test_an_empty_source_is_an_error(spec):
    with pytest.raises(SourceError, match="the source is empty"):
        open_source(spec)


class FakePicamera2:
    """picamera2's Picamera2 as far as the source uses it; ``wait`` as its dispatch_functions
    takes it (None or True: as long as it takes; a number: that many seconds, then
    TimeoutError). ``frames`` is what the camera delivers, None for a stalled one."""

    frames: ClassVar[list[np.ndarray | None]] = []
    opened = 0

    def __init__(self) -> None:
        FakePicamera2.opened += 1

    def create_video_configuration(self, main, lores):
        return {"main": main, "lores": lores}

    def configure(self, config) -> None:
        self.size = config["lores"]["size"]

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...

    def capture_array(self, name="main", wait=None):
        assert name == "lores"
        if wait is None or wait is True:
            raise AssertionError("capture_array would wait for a frame without end")
        frame = self.frames.pop(0) if self.frames else None
        if frame is None:
            raise TimeoutError()  # concurrent.futures' timeout, as Job.get_result raises it
        return frame


@pytest.fixture
def fake_picamera2(monkeypatch):
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    FakePicamera2.frames, FakePicamera2.opened = [], 0
    return FakePicamera2


def test_picamera_reads_the_luminance_of_its_lores_stream(fake_picamera2):
    yuv = np.arange(6 * 8, dtype=np.uint8).reshape(6, 8)  # 4 rows of Y, 2 of U and V; stride 8
    fake_picamera2.frames = [yuv]
    source = PiCameraSource(size=(6, 4))
    np.testing.assert_array_equal(source.read().image, yuv[:4, :6])


def test_a_stalled_picamera_is_retried_reopened_then_reported(fake_picamera2):
    sleeps: list[float] = []
    source = PiCameraSource(retry=RetryPolicy(attempts=3, first_delay=0.01), sleep=sleeps.append)
    with pytest.raises(SourceError, match=r"stopped delivering frames: 4 reads failed .*Timeout"):
        source.read()
    assert len(sleeps) == 3
    assert fake_picamera2.opened == 3  # reopened after the second and third failures


def test_picamera_without_picamera2_explains_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes the import fail
    with pytest.raises(SourceError, match="sudo apt install python3-picamera2"):
        open_source("picamera")


def test_a_single_image_that_cannot_be_read_does_not_open(tmp_path):
    broken = tmp_path / "page.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(SourceError, match="not an image file OpenCV can decode"):
        open_source(str(broken))
    good = tmp_path / "good.png"
    import cv2

    cv2.imwrite(str(good), np.full((40, 60), 200, np.uint8))
    source = open_source(str(good))
    image, name = source._next_image()
    assert image.shape == (40, 60) and name == "good.png"
    assert source._next_image() is None


def test_a_folder_named_like_a_camera_index_is_pointed_out(tmp_path, monkeypatch):
    from camera_demo import sources

    monkeypatch.chdir(tmp_path)
    (tmp_path / "2024").mkdir()
    monkeypatch.setattr(
        sources, "_camera_capture", lambda index, size: lambda: FakeCapture([], opened=False)
    )
    with pytest.raises(SourceError, match=r"cannot open camera 2024.*give \./2024"):
        open_source("2024")
    with pytest.raises(SourceError, match="cannot open camera 7") as error:
        open_source("7")
    assert "give ./" not in str(error.value)


def test_digits_other_than_ascii_name_no_camera_and_sort_files(tmp_path):
    """'²' and '٣' are digits to str.isdigit, but no camera index and not int('²')."""
    import cv2

    with pytest.raises(SourceError, match="source '²' not found"):
        open_source("²")
    for name in ("a1²2.png", "f10.png", "f2.png"):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8), 200, np.uint8))
    names = [frame.name for frame in open_source(str(tmp_path))]
    assert names == ["a1²2.png", "f2.png", "f10.png"]
