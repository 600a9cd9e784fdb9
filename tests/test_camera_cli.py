"""digit-camera: the command line, its errors, stops, display fallback and keys."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from camera_fakes import FakeCapture, FakeWindow, ListSource, write_sample_video

from camera_demo import cli, synth
from camera_demo.sources import (
    CaptureSource,
)
from runtime.cli_common import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from runtime.segment import MIN_HEIGHT


@pytest.fixture(scope="module")
def video(tmp_path_factory, mnist) -> tuple[Path, list[synth.FrameTruth]]:
    return write_sample_video(tmp_path_factory.mktemp("video"), mnist, 24)


def test_cli_reports_a_dead_camera_and_exits_non_zero(built_model, monkeypatch, capsys):
    def dead_camera(spec, camera_size, retry):
        return CaptureSource(
            lambda: FakeCapture([]), f"camera {spec}", True, retry, sleep=lambda s: None
        )

    monkeypatch.setattr(cli, "open_source", dead_camera)
    code = cli.main(["--model", str(built_model), "--source", "0", "--headless", "--retries", "2"])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "retry 1/2" in err and "retry 2/2" in err
    assert "error: camera 0 stopped delivering frames" in err
    assert "stopped: the source stopped delivering frames: 0 frames in" in err  # the summary


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("no/such/video.mp4", "source 'no/such/video.mp4' not found"),
        ("/dev/video97", "camera device /dev/video97 does not exist"),
    ],
)
def test_cli_missing_source_is_a_clear_error(built_model, source, message, capsys):
    assert (
        cli.main(["--model", str(built_model), "--source", source, "--headless"]) == EXIT_BAD_INPUT
    )
    assert message in capsys.readouterr().err


def test_cli_missing_model_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "missing.tflite"
    assert (
        cli.main(["--model", str(missing), "--source", str(tmp_path), "--headless"])
        == EXIT_BAD_INPUT
    )
    err = capsys.readouterr().err
    assert "error:" in err and "missing.tflite" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("roi", "said"), [("1,2,three,4", "x,y,w,h"), ("-5,0,10,10", "x, y >= 0")])
def test_cli_rejects_bad_arguments(capsys, roi, said):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model", "m.tflite", "--roi", roi])
    assert exit_info.value.code == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("overwritten", ["model", "source"])
def test_readings_are_never_appended_to_the_model_or_the_source(tmp_path, overwritten, capsys):
    model, source = tmp_path / "m.tflite", tmp_path / "page.png"
    model.write_bytes(b"model bytes")
    source.write_bytes(b"image bytes")
    target = {"model": model, "source": source}[overwritten]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model", str(model), "--source", str(source), "--jsonl", str(target)])
    assert exit_info.value.code == EXIT_BAD_INPUT
    assert f"is the {overwritten}" in capsys.readouterr().err
    assert (model.read_bytes(), source.read_bytes()) == (b"model bytes", b"image bytes")


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_file_url_source_is_protected_as_its_path_is(tmp_path, kind, capsys):
    """``file://`` names the file or folder its path does: its images are inputs all the same
    (the check once took the URL for a path of its own and appended JSON to the source)."""
    model, image = tmp_path / "m.tflite", tmp_path / "my pages" / "page.png"
    image.parent.mkdir()
    model.write_bytes(b"model bytes")
    image.write_bytes(b"image bytes")
    source = (image if kind == "file" else image.parent).as_uri()  # "my%20pages"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model", str(model), "--source", source, "--jsonl", str(image)])
    assert exit_info.value.code == EXIT_BAD_INPUT
    said = "is the source" if kind == "file" else "is an image of the source folder"
    assert said in capsys.readouterr().err
    assert image.read_bytes() == b"image bytes"


def test_a_ca_file_without_tls_is_refused(capsys):
    """Without mqtts:// the CA file was ignored and the password went out in plain text."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model", "m.tflite", "--mqtt", "mqtt://ha:pw@broker/t", "--mqtt-ca", "ca.pem"])
    assert exit_info.value.code == EXIT_BAD_INPUT
    assert "--mqtt-ca is for a broker reached over TLS" in capsys.readouterr().err


def test_readings_are_never_appended_to_an_image_of_the_source_folder(tmp_path, capsys):
    model, image = tmp_path / "m.tflite", tmp_path / "pages" / "page.png"
    image.parent.mkdir()
    model.write_bytes(b"model bytes")
    image.write_bytes(b"image bytes")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model", str(model), "--source", str(image.parent), "--jsonl", str(image)])
    assert exit_info.value.code == EXIT_BAD_INPUT
    assert "is an image of the source folder" in capsys.readouterr().err
    assert image.read_bytes() == b"image bytes"
    new_image = image.parent / "readings.PNG"  # not there yet: the next run would read it
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model", str(model), "--source", str(image.parent), "--jsonl", str(new_image)])
    assert exit_info.value.code == EXIT_BAD_INPUT
    assert "is an image of the source folder" in capsys.readouterr().err
    assert not new_image.exists()


def test_a_video_ffmpeg_cannot_open_is_one_error_line(built_model, tmp_path):
    """FFmpeg's own log line ("moov atom not found") no longer comes before the kit's."""
    import subprocess

    empty = tmp_path / "clip.mp4"
    empty.write_bytes(b"")
    command = [sys.executable, "-m", "camera_demo", "--model", str(built_model), "--headless"]
    done = subprocess.run(
        [*command, "--source", str(empty)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_BAD_INPUT
    assert done.stderr.splitlines() == [
        f"digit-camera: error: cannot open video file {empty}: OpenCV/FFmpeg cannot decode it "
        "(not a video, or a codec it lacks)"
    ]


def test_an_os_error_main_did_not_expect_is_one_line_and_exit_2(built_model, monkeypatch, capsys):
    # main carries the console-script convention, as tests and other code call it.
    def refused(*args):
        raise PermissionError(13, "Permission denied", "/dev/video0")

    monkeypatch.setattr(cli, "open_source", refused)
    assert cli.main(["--model", str(built_model), "--source", "0", "--headless"]) == EXIT_BAD_INPUT
    assert "error: /dev/video0: Permission denied" in capsys.readouterr().err


def test_ctrl_c_releases_the_source_and_exits_130(built_model, monkeypatch, capsys):
    source = ListSource([np.full((48, 64), 220, np.uint8)] * 5, interrupt_at=2)
    monkeypatch.setattr(cli, "open_source", lambda *args: source)
    code = cli.main(["--model", str(built_model), "--source", "0", "--headless"])
    assert code == EXIT_INTERRUPTED
    assert source.closed
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert "interrupted: 2 frames" in err


def test_no_display_falls_back_to_headless(built_model, video, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    code = cli.main(["--model", str(built_model), "--source", str(video[0]), "--max-frames", "2"])
    assert code == 0
    out, err = capsys.readouterr()
    assert "no display available" in err and "running headless" in err
    assert len(out.splitlines()) == 2


def test_opencv_without_gui_falls_back_to_headless(built_model, video, monkeypatch, capsys):
    def no_gui(*args, **kwargs):
        raise cv2.error("The function is not implemented. Rebuild the library with GTK+ support")

    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(cv2, "namedWindow", no_gui)
    code = cli.main(["--model", str(built_model), "--source", str(video[0]), "--max-frames", "2"])
    assert code == 0
    out, err = capsys.readouterr()
    assert "OpenCV cannot open a window" in err and "running headless" in err
    assert len(out.splitlines()) == 2


def test_window_keys_snapshot_pause_and_quit(built_model, video, monkeypatch, tmp_path, capsys):
    window = FakeWindow([-1, ord("s"), ord(" "), -1, ord(" "), -1, ord("q")])
    monkeypatch.setattr(cli, "_open_window", lambda headless: window)
    snapshots = tmp_path / "snaps"
    code = cli.main(
        ["--model", str(built_model), "--source", str(video[0]), "--snapshot-dir", str(snapshots)]
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


def test_sigterm_stops_cleanly(built_model, monkeypatch, capsys):
    import os
    import signal

    class TerminatedSource(ListSource):
        def _next_image(self):
            if self._count == 1:
                os.kill(os.getpid(), signal.SIGTERM)  # as `systemctl stop` does
            return super()._next_image()

    source = TerminatedSource([np.full((48, 64), 220, np.uint8)] * 5)
    monkeypatch.setattr(cli, "open_source", lambda *args: source)
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["--model", str(built_model), "--source", "0", "--headless"]) == 0
    assert source.closed
    assert "stopped by SIGTERM: 1 frame in" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is restored


def test_a_folder_where_no_image_can_be_read_exits_2(built_model, tmp_path, capsys):
    for name in ("a.png", "b.jpg"):
        (tmp_path / name).write_bytes(b"not an image")
    code = cli.main(["--model", str(built_model), "--source", str(tmp_path), "--headless"])
    assert code == 2
    err = capsys.readouterr().err
    assert "2 unreadable files skipped" in err
    assert f"digit-camera: error: no image in image folder {tmp_path} could be read" in err


def test_the_pictures_of_a_folder_are_not_smoothed_together(built_model, tmp_path, monkeypatch):
    # Separate pictures are separate scenes: one picture's digits must not outvote the next's.
    from camera_demo.pipeline import FramePipeline

    windows = []
    process = FramePipeline.process

    def spy(self, image, index):
        windows.append(self.smoother.window)
        return process(self, image, index)

    monkeypatch.setattr(FramePipeline, "process", spy)
    for name in ("a.png", "b.png"):
        assert cv2.imwrite(str(tmp_path / name), np.full((60, 80), 255, np.uint8))
    args = ["--model", str(built_model), "--source", str(tmp_path), "--headless", "--smooth", "5"]
    assert cli.main([*args, "--jsonl", str(tmp_path / "out.jsonl")]) == 0
    assert windows == [1, 1]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_stops_the_reading_with_one_error_and_the_summary(
    built_model, tmp_path, capsys
):
    for name in ("a.png", "b.png"):
        assert cv2.imwrite(str(tmp_path / name), np.full((60, 80), 255, np.uint8))
    args = ["--model", str(built_model), "--source", str(tmp_path), "--headless"]
    assert cli.main([*args, "--jsonl", "/dev/full"]) == EXIT_BAD_INPUT  # an SD card full
    err = capsys.readouterr().err
    assert "error: cannot write the JSONL output to /dev/full: No space left on device" in err
    assert "stopped: cannot write the JSONL output" in err and "1 frame" in err  # the summary
    assert "Traceback" not in err


def test_a_jsonl_file_cut_off_mid_line_gets_its_next_record_on_a_line_of_its_own(tmp_path):
    """A run cut off mid-write (power loss) left a torn last line; the next run's first
    record was glued to it, and both were lost to a JSON reader."""
    from camera_demo.output import JsonlWriter

    path = tmp_path / "readings.jsonl"
    path.write_text('{"frame":0}\n{"frame":1,"num')
    with JsonlWriter(path) as writer:
        writer.write({"frame": 0})
    assert path.read_text().splitlines() == ['{"frame":0}', '{"frame":1,"num', '{"frame":0}']
    with JsonlWriter(path) as writer:  # a whole file is appended to as it is
        writer.write({"frame": 1})
    assert path.read_text().splitlines()[-2:] == ['{"frame":0}', '{"frame":1}']


def test_a_jsonl_output_is_appended_only_to_json_lines_in_a_folder_that_exists(tmp_path):
    """A mistyped path is not created, and a video named by mistake is not written into."""
    from camera_demo.output import JsonlWriter
    from runtime.errors import DigitKitError

    with pytest.raises(DigitKitError, match=r"no folder .*missing \(it is not created\)"):
        JsonlWriter(tmp_path / "missing" / "readings.jsonl")
    assert not (tmp_path / "missing").exists()
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    with pytest.raises(DigitKitError, match="holds something other than JSON lines"):
        JsonlWriter(video)
    assert video.read_bytes() == b"\x00\x00\x00\x18ftypmp42"
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    with JsonlWriter(empty) as writer:
        writer.write({"frame": 0})
    assert empty.read_text() == '{"frame":0}\n'
    lost = tmp_path / "lost.jsonl"  # its first block lost at a power cut: NUL bytes
    lost.write_bytes(bytes(512))
    with JsonlWriter(lost) as writer:
        writer.write({"frame": 0})
    assert lost.read_bytes().endswith(b'\n{"frame":0}\n')


@pytest.mark.parametrize(
    ("given", "searched"), [([], MIN_HEIGHT), (["--min-height", "0.012"], 0.012)]
)
def test_min_height_reaches_the_search(built_model, tmp_path, monkeypatch, given, searched):
    """A page photographed whole: --min-height goes to the reader, as digit-classify's does."""
    from runtime import segment

    seen = []
    monkeypatch.setattr(segment, "read_digits", lambda *a, **k: seen.append(k["min_height"]) or [])
    assert cv2.imwrite(str(tmp_path / "page.png"), np.full((120, 160), 230, np.uint8))
    argv = ["--model", str(built_model), "--source", str(tmp_path), "--headless", *given]
    assert cli.main(argv) == 0
    assert seen == [searched]
