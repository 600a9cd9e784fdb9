"""The device path never touches TensorFlow or Keras: run it where importing them fails.

A fresh interpreter blocks ``tensorflow``, ``keras`` and ``tf_keras`` with a ``sys.meta_path``
finder, then imports ``runtime``, loads a model on each backend and classifies. Any direct or
indirect import of the blocked packages would raise; the script also checks ``sys.modules``
(and that OpenCV stays unloaded while no photo needs preprocessing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tflite_builder as tb

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import importlib.abc, json, sys

BLOCKED = {"tensorflow", "keras", "tf_keras"}

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocker())

import numpy as np
import runtime
from runtime import DigitClassifier, available_backends

model = sys.argv[1]
image = np.zeros((28, 28), np.uint8)
image[6:22, 12:16] = 255
batch = np.stack([image, image.T])
results = {"available": available_backends()}
for backend in ("auto", "litert", "numpy"):
    clf = DigitClassifier(model, backend=backend)
    results[backend] = {
        "name": clf.backend_name,
        "digit": clf.predict(image).digit,
        "batch": clf.predict_proba(batch).argmax(1).tolist(),
        "metadata": clf.metadata is not None,
    }
results["loaded"] = sorted(
    name for name in ("tensorflow", "keras", "tf_keras", "cv2") if name in sys.modules
)
print(json.dumps(results))
"""


def classify_without_tensorflow(model: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def check(results: dict, with_metadata: bool) -> None:
    assert results["loaded"] == []
    assert "tensorflow" not in results["available"]
    assert results["auto"]["name"] == "litert"
    assert results["litert"]["name"] == "litert" and results["numpy"]["name"] == "numpy"
    assert results["litert"]["digit"] == results["numpy"]["digit"]
    assert results["litert"]["batch"] == results["numpy"]["batch"]
    assert results["numpy"]["metadata"] is with_metadata


def test_runtime_classifies_with_tensorflow_blocked(tmp_path):
    model = tmp_path / "model_int8.tflite"
    model.write_bytes(tb.with_metadata(tb.int8_mlp(tb.FloatMlp.random(seed=4)), format="int8"))
    check(classify_without_tensorflow(model), with_metadata=True)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["int8", "float32"])
def test_converted_models_classify_with_tensorflow_blocked(tflite_models, fmt):
    check(classify_without_tensorflow(tflite_models[fmt]), with_metadata=True)
