"""camera_demo.overlay and output: the drawn view and snapshots."""

from __future__ import annotations

import cv2
import numpy as np

from camera_demo.output import save_snapshot
from camera_demo.overlay import draw_overlay
from camera_demo.pipeline import DigitReading, FrameReading


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
