"""Shared fixtures. MNIST comes from $DIGIT_KIT_MNIST_DIR or ../shared/data/mnist beside the repo."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


def mnist_dir() -> Path:
    """The MNIST directory the tests use: $DIGIT_KIT_MNIST_DIR, ../shared/data/mnist, Keras' cache."""
    if os.environ.get("DIGIT_KIT_MNIST_DIR"):
        return Path(os.environ["DIGIT_KIT_MNIST_DIR"])
    if DEFAULT_MNIST_DIR.is_dir():
        return DEFAULT_MNIST_DIR
    from train.data import keras_cache_dir, load_mnist

    load_mnist(None)  # fills Keras' cache (checksum-verified download) if it is empty
    return keras_cache_dir()


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    return mnist_dir()


@pytest.fixture(scope="session")
def mnist(mnist_path):
    from train.data import load_mnist

    return load_mnist(mnist_path)


@pytest.fixture(scope="session")
def small_keras_model(tmp_path_factory, mnist) -> Path:
    """The default recipe cut to 6 epochs and fewer judge pages (~98.5% test accuracy), saved
    as .keras with its metrics.json (so convert takes its acceptance threshold).

    Augmented training matters more than raw MNIST accuracy for reading digits re-rendered
    on paper (the camera-demo test): an unaugmented 98% model reads them worse.
    """
    import dataclasses

    from train.fit import fit
    from train.recipes import DEFAULT
    from train.report import write_report

    recipe = dataclasses.replace(DEFAULT, epochs=6, judge_pages=500, threshold_pages=100)
    result = fit(mnist, recipe, seed=0, verbose=0)
    folder = tmp_path_factory.mktemp("keras")
    write_report(result, mnist, folder)
    return folder / "model.keras"


@pytest.fixture(scope="session")
def reading_threshold() -> float:
    """The threshold at which tests of the reader's mechanics (splitting, boxes) read with the
    6-epoch test model: about the one its held-out pages score best. Training keeps the
    strictest threshold those 100 pages cannot tell from the best, for this weak model the top
    of the grid (0.9995), where it accepts few digits; those tests judge the reader, not that
    choice."""
    return 0.96


@pytest.fixture(scope="session")
def tflite_models(tmp_path_factory, small_keras_model, mnist_path) -> dict[str, Path]:
    """The small model converted to every format, each accepted by the parity gate (format -> .tflite)."""
    from convert import convert_model

    out = tmp_path_factory.mktemp("tflite")
    report = convert_model(small_keras_model, out, data=mnist_path, timing_images=200)
    assert report.passed, report.format_table()
    return {fmt: result.path for fmt, result in report.formats.items()}


@pytest.fixture(scope="session")
def built_model(tmp_path_factory) -> Path:
    """A small int8 model with the kit's metadata, built in milliseconds without training (random
    weights): for plumbing tests that do not judge what is read."""
    import tflite_builder as tb

    path = tmp_path_factory.mktemp("built") / "built_int8.tflite"
    model = tb.int8_mlp(tb.FloatMlp.random(seed=3, hidden=32), softmax=False)
    path.write_bytes(tb.with_metadata(model, format="int8"))
    return path


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``opencv`` are skipped where OpenCV is not installed at all: the device
    run without OpenCV (scripts/device_matrix.sh), which proves the rest works without it."""
    if importlib.util.find_spec("cv2") is not None:
        return
    skip = pytest.mark.skip(reason="OpenCV is not installed in this environment")
    for item in items:
        if "opencv" in item.keywords:
            item.add_marker(skip)
