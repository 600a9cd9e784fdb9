"""camera_demo.smoothing: following digits across frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from camera_demo.smoothing import TemporalSmoother


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


def test_a_digit_the_classifier_is_sure_of_is_not_outvoted_by_the_past():
    """Crops that correlate (a 5 and a 0 of one typeface can) still start a new track when the
    classifier is sure the detection is another digit: a meter turning from 5 to 0 reads 0 at
    once. A reading it is not sure of is smoothed as before."""
    crop = np.zeros((28, 28), np.uint8)
    cv2.circle(crop, (14, 14), 8, 255, 3)
    box = (100, 50, 20, 40)
    five, zero = np.eye(10, dtype=np.float32)[5][None], np.eye(10, dtype=np.float32)[0][None]
    smoother = TemporalSmoother(window=5, sure=lambda confidence, digit: confidence >= 0.9)
    for _ in range(5):
        (first,) = smoother.update([box], [crop], five)
    (unsure,) = smoother.update([box], [crop], zero * 0.6)
    assert unsure.track == first.track and int(unsure.probabilities.argmax()) == 5
    (changed,) = smoother.update([box], [crop], zero * 0.99)
    assert changed.track != first.track and int(changed.probabilities.argmax()) == 0
    without_rule = TemporalSmoother(window=5)  # the crops alone: the past outvotes the 0
    for _ in range(5):
        without_rule.update([box], [crop], five)
    (outvoted,) = without_rule.update([box], [crop], zero * 0.99)
    assert int(outvoted.probabilities.argmax()) == 5
