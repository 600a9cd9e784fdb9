"""camera_demo.synth: the sample video and its ground truth."""

from __future__ import annotations

import json

import cv2
import pytest

from camera_demo import synth


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
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("digit-sample-video: error:") and ".mp4" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--fps", "0"], "--fps: must lie within 1..240"),
        (["--fps", "nan"], "--fps: must lie within 1..240"),
        (["--size", "100000x100000"], "too large (at most 8192x8192)"),
    ],
)
def test_synth_refuses_rates_and_sizes_no_encoder_takes(tmp_path, option, message, capsys):
    # They failed as "OpenCV cannot open a mp4v video writer" after an OpenCV [ERROR] line.
    with pytest.raises(SystemExit) as exit_info:
        synth.main([str(tmp_path / "clip.mp4"), *option])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_each_sample_frame_is_written_as_one_number(mnist):
    # Digits written 0.2-0.6 of their height apart crossed the reader's gap between numbers:
    # a third of the sample's frames read as several numbers, and --changes-only flickered.
    from runtime.segment import numbers_in

    frames = synth.render_frames(mnist.x_test, mnist.y_test, frames=240, seed=0, hold=1)
    for _, truth in frames:
        boxes = [digit.box for digit in truth.digits]
        assert len(numbers_in(boxes)) == 1, (truth.frame, boxes)
