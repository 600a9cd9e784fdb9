"""DigitClassifier: inputs, batching, thresholds, backends, metadata and errors.

Fast tests use small models built in-process (tests/tflite_builder.py); the slow ones use the
converter's real files (the ``tflite_models`` fixture) on the MNIST test set.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import tflite_builder as tb

import runtime
from runtime import DigitClassifier, Prediction, available_backends
from runtime.backends import auto_order, max_threads
from runtime.classifier import DEFAULT_THRESHOLD, STROKE_ODDS, acceptance_bar, accepted, accepts
from runtime.errors import (
    BackendUnavailableError,
    ImageError,
    MetadataMismatchError,
    ModelFormatError,
    NoDigitFoundError,
)

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = tb.FloatMlp.random(seed=11, hidden=24)
BACKENDS = ["litert", "numpy"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Small models of every input/output kind, written to files."""
    folder = tmp_path_factory.mktemp("built")
    models = {
        "float32": tb.float_mlp(WEIGHTS),
        "flat": tb.float_mlp(WEIGHTS, input_shape=(1, 784)),
        "int8": tb.with_metadata(tb.int8_mlp(WEIGHTS), format="int8"),
        "int8_io": tb.int8_mlp(WEIGHTS, input_type="int8", output_type="int8"),
        "five_classes": tb.float_mlp(tb.FloatMlp.random(classes=5)),
        "wrong_input": tb.float_mlp(tb.FloatMlp.random(pixels=32 * 32), input_shape=(1, 32, 32)),
    }
    paths = {}
    for name, model in models.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(model)
    return paths


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return tb.random_images(40, seed=12)


# --- predictions ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["float32", "flat", "int8", "int8_io"])
def test_predict_returns_a_consistent_prediction(built, images, backend, kind):
    clf = DigitClassifier(built[kind], backend=backend)
    assert clf.backend_name == backend
    prediction = clf.predict(images[0])
    assert isinstance(prediction, Prediction)
    assert isinstance(prediction.digit, int) and isinstance(prediction.confidence, float)
    assert len(prediction.probabilities) == 10
    assert all(isinstance(p, float) for p in prediction.probabilities)
    assert prediction.digit == int(np.argmax(prediction.probabilities))
    assert prediction.confidence == max(prediction.probabilities)
    assert abs(sum(prediction.probabilities) - 1) < 0.05
    assert prediction.accepted == (prediction.confidence >= DEFAULT_THRESHOLD)
    with pytest.raises(AttributeError):
        prediction.digit = 3  # frozen


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["float32", "int8", "int8_io"])
def test_single_batch_and_array_paths_agree(built, images, backend, kind):
    clf = DigitClassifier(built[kind], backend=backend)
    singles = [clf.predict(image) for image in images]
    batch = clf.predict_batch(images)
    listed = clf.predict_batch(list(images))
    proba = clf.predict_proba(images)
    assert proba.shape == (len(images), 10) and proba.dtype == np.float32
    assert [p.digit for p in batch] == [p.digit for p in singles] == list(proba.argmax(1))
    assert [p.digit for p in listed] == [p.digit for p in singles]
    np.testing.assert_allclose(
        [p.probabilities for p in batch], [p.probabilities for p in singles], atol=1e-5
    )
    np.testing.assert_allclose(proba, [p.probabilities for p in singles], atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batches_of_changing_size_match_single_predictions(built, backend):
    clf = DigitClassifier(built["int8"], backend=backend)
    images = tb.random_images(600, seed=13)
    expected = np.array([clf.predict(image).probabilities for image in images], dtype=np.float32)
    # Grow past the interpreter's chunk, then shrink: padding must never leak into results.
    for size in (3, 600, 5, 1, 257, 2):
        np.testing.assert_allclose(clf.predict_proba(images[:size]), expected[:size], atol=1e-6)
    assert clf.predict_proba(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)
    assert clf.predict_batch(np.zeros((0, 28, 28), np.uint8)) == []
    assert clf.predict_batch([]) == []
    assert clf.predict_proba([]).shape == clf.predict_scores(()).shape == (0, 10)


def test_other_images_go_through_preprocess_and_the_classifier_settles_the_polarity(
    built, images, monkeypatch
):
    """A photo is prepared with its polarity guessed; when that reading is not accepted, it is
    read both ways and an accepted reading is kept (a bold digit cut at its box fools the
    guess)."""
    from runtime.errors import NoDigitFoundError

    # The module, not the function ``runtime.preprocess`` that the package exports lazily.
    preprocess_module = importlib.import_module("runtime.preprocess")
    clf = DigitClassifier(built["int8"])
    by_confidence = sorted(
        (im for im in images if clf.predict(im).digit != 1),
        key=lambda im: clf.predict(im).confidence,
    )
    unsure, sure = by_confidence[0], by_confidence[-1]
    clf.threshold = (clf.predict(unsure).confidence + clf.predict(sure).confidence) / 2
    assert clf.predict(sure).accepted and not clf.predict(unsure).accepted
    photo = np.full((120, 90, 3), 200, np.uint8)
    for guessed, calls in ((unsure, ["auto", "dark_on_light", "light_on_dark"]), (sure, ["auto"])):
        forms = {"auto": guessed, "dark_on_light": sure}
        seen = []

        def fake_preprocess(image, polarity="auto", forms=forms, seen=seen):
            seen.append((image.shape, polarity))
            if polarity not in forms:
                raise NoDigitFoundError("no ink this way")
            return forms[polarity]

        monkeypatch.setattr(preprocess_module, "preprocess", fake_preprocess)
        assert clf.predict(photo) == clf.predict(sure)
        assert seen == [((120, 90, 3), polarity) for polarity in calls]
        batch = clf.predict_batch([photo, images[2], photo])
        assert batch == [clf.predict(sure), clf.predict(images[2]), clf.predict(sure)]


def test_a_28x28_digit_on_a_light_ground_is_read_as_a_photo(built, images, monkeypatch):
    """MNIST form is light ink on black; a dark digit cut from paper at 28x28 (or drawn on
    white) was read as MNIST form, its paper as ink, and misread."""
    preprocess_module = importlib.import_module("runtime.preprocess")
    clf = DigitClassifier(built["int8"])
    digit, paper = images[3], 255 - images[3]
    prepared = []

    def fake_preprocess(image, polarity="auto"):
        prepared.append(polarity)
        return digit  # as preprocess prepares the photo: MNIST form

    monkeypatch.setattr(preprocess_module, "preprocess", fake_preprocess)
    assert clf.predict(paper) == clf.predict(digit) and prepared == ["auto"]
    assert clf.predict(np.dstack([paper] * 3)) == clf.predict(digit)
    assert clf.predict_batch(np.stack([digit, paper])) == [clf.predict(digit)] * 2
    assert clf.predict_batch([paper, digit]) == [clf.predict(digit)] * 2
    assert prepared == ["auto"] * 4  # MNIST-form images never go through preprocess
    with pytest.raises(ImageError, match="one 28x28 image: use predict"):
        clf.predict_batch(digit)


def test_predict_form_reads_28x28_as_mnist_form_whatever_its_ground(built, images):
    clf = DigitClassifier(built["int8"], threshold=0.0)
    digit, paper = images[3], 255 - images[3]
    assert clf.predict_form(digit) == clf.predict(digit)
    assert clf.predict_form(digit[:, :, None] / 255.0) == clf.predict(digit)
    seen_as_is = clf.predict_proba(paper[None])[0]  # the paper as ink: not turned into a photo
    np.testing.assert_array_equal(clf.predict_form(paper).probabilities, seen_as_is)
    for wrong in (np.dstack([digit] * 3), np.zeros((100, 100), np.uint8)):
        with pytest.raises(ImageError, match="predict_form takes one 28x28 MNIST-form image"):
            clf.predict_form(wrong)
    for bad in (digit.reshape(784), np.full((28, 28), np.nan)):
        with pytest.raises(ImageError):  # as predict refuses them
            clf.predict_form(bad)


@pytest.mark.opencv
def test_a_blank_photo_has_no_digit(built):
    clf = DigitClassifier(built["int8"])
    with pytest.raises(NoDigitFoundError):
        clf.predict(np.full((100, 100), 230, np.uint8))
    with pytest.raises(NoDigitFoundError, match="image 1"):
        clf.predict_batch([np.zeros((28, 28), np.uint8), np.full((100, 100), 230, np.uint8)])


# --- thresholds -----------------------------------------------------------------------------


def test_threshold_decides_acceptance(built, images):
    strict = DigitClassifier(built["float32"], threshold=1.0)
    lenient = DigitClassifier(built["float32"], threshold=0.0)
    middle = DigitClassifier(built["float32"], threshold=0.3)
    assert DigitClassifier(built["float32"]).threshold == DEFAULT_THRESHOLD
    for image in images:
        confidence = lenient.predict(image).confidence
        assert lenient.predict(image).accepted
        assert strict.predict(image).accepted == (confidence == 1.0)
        prediction = middle.predict(image)
        assert prediction.accepted == (confidence >= acceptance_bar(0.3, prediction.digit))


def test_a_one_must_be_surer_than_the_other_digits():
    """A 1 is accepted from the confidence whose odds are STROKE_ODDS times the threshold's."""
    for threshold in (0.3, 0.7, 0.9, 0.986):
        bar = acceptance_bar(threshold, 1)
        odds = threshold / (1 - threshold)
        assert bar / (1 - bar) == pytest.approx(STROKE_ODDS * odds)
        assert all(acceptance_bar(threshold, digit) == threshold for digit in (0, *range(2, 10)))
    assert acceptance_bar(0.986, 1) == pytest.approx(0.99646, abs=1e-5)
    assert (acceptance_bar(0.0, 1), acceptance_bar(1.0, 1)) == (0.0, 1.0)  # all and nothing
    rows = np.full((4, 10), 0.001, np.float32)
    rows[[0, 1, 2, 3], [1, 1, 7, 7]] = [0.99, 0.999, 0.99, 0.98]
    assert accepted(rows, 0.986).tolist() == [False, True, True, False]
    assert [accepts(float(row.max()), int(row.argmax()), 0.986) for row in rows] == [
        False,
        True,
        True,
        False,
    ]
    assert not accepts(float("nan"), 7, 0.0) and not accepted(np.full((1, 10), np.nan), 0.0)[0]


def test_the_classifier_applies_the_rule_for_ones(built):
    clf = DigitClassifier(built["float32"], threshold=0.986)
    assert not clf.accepts(0.99, 1) and clf.accepts(0.997, 1) and clf.accepts(0.99, 7)
    assert clf.acceptance_bar(1) == acceptance_bar(0.986, 1)
    clf.threshold = 0.5
    assert clf.accepts(0.85, 1) and not clf.accepts(0.75, 1)  # from 0.8 (odds 4 : 1)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), "high"])
def test_invalid_threshold_is_refused(built, threshold):
    with pytest.raises(ValueError, match="threshold"):
        DigitClassifier(built["float32"], threshold=threshold)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_invalid_thread_count_is_refused(built, threads):
    with pytest.raises(ValueError, match="num_threads"):
        DigitClassifier(built["float32"], num_threads=threads)


# --- backends -------------------------------------------------------------------------------


def test_available_backends_and_auto_choice(built):
    names = available_backends()
    assert {"litert", "numpy"} <= set(names)
    assert DigitClassifier(built["int8"]).backend_name == "litert"
    most = max_threads()
    assert DigitClassifier(built["int8"], num_threads=most).backend_name == "litert"
    with pytest.raises(ValueError, match="num_threads must be at least 1, got 0"):
        DigitClassifier(built["int8"], num_threads=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_more_threads_than_cpus_are_capped_to_the_cpus(built, images, backend, monkeypatch):
    """Code written for a 4-core device runs on a 1-core one; a million threads, which LiteRT
    would start one by one until the system gives out, are capped too."""
    import ai_edge_litert.interpreter

    asked: list[int] = []
    litert_interpreter = ai_edge_litert.interpreter.Interpreter

    def interpreter(**kwargs):
        asked.append(kwargs["num_threads"])
        return litert_interpreter(**kwargs)

    monkeypatch.setattr(ai_edge_litert.interpreter, "Interpreter", interpreter)
    monkeypatch.setattr("runtime.classifier.max_threads", lambda: 1)
    expected = DigitClassifier(built["int8"], backend=backend).predict_proba(images)
    asked.clear()
    for threads in (4, 10**6):
        clf = DigitClassifier(built["int8"], backend=backend, num_threads=threads)
        assert clf.num_threads == 1
        np.testing.assert_array_equal(clf.predict_proba(images), expected)
    assert asked == ([1, 1, 1, 1] if backend == "litert" else [])  # one-image and batch each


def test_max_threads_counts_the_cpus_this_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)
    assert max_threads() == 3  # Python 3.13+: affinity and PYTHON_CPU_COUNT
    monkeypatch.delattr(os, "process_cpu_count")
    assert max_threads() == 2  # the affinity mask (taskset, a container's cpuset)
    monkeypatch.delattr(os, "sched_getaffinity")
    assert max_threads() == 64
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # undeterminable
    assert max_threads() == 1


def test_auto_falls_back_to_numpy_without_interpreters(built, images, monkeypatch):
    expected = DigitClassifier(built["int8"], backend="litert").predict_proba(images)
    for module in ("ai_edge_litert", "tflite_runtime", "tensorflow"):
        monkeypatch.setitem(sys.modules, module, None)  # None in sys.modules: not importable
    assert auto_order() == ["litert", "tflite_runtime", "numpy"]
    assert available_backends() == ["numpy"]
    clf = DigitClassifier(built["int8"])
    assert clf.backend_name == "numpy"
    np.testing.assert_allclose(clf.predict_proba(images), expected, atol=1 / 256 + 1e-6)
    with pytest.raises(BackendUnavailableError, match="ai-edge-litert"):
        DigitClassifier(built["int8"], backend="litert")


def test_auto_uses_tensorflow_only_when_already_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    assert "tensorflow" not in auto_order()
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    assert auto_order() == ["litert", "tflite_runtime", "tensorflow", "numpy"]


@pytest.mark.parametrize("name", ["bogus", "LITERT", ""])
def test_unknown_backend_is_refused(built, name):
    with pytest.raises(BackendUnavailableError, match="unknown backend"):
        DigitClassifier(built["int8"], backend=name)


def test_missing_backend_names_how_to_install(built):
    if "tflite_runtime" in available_backends():
        pytest.skip("tflite-runtime is installed here")
    with pytest.raises(BackendUnavailableError, match="pip install tflite-runtime"):
        DigitClassifier(built["int8"], backend="tflite_runtime")


@pytest.mark.slow
def test_tensorflow_backend_when_asked(built, images):
    pytest.importorskip("tensorflow")
    clf = DigitClassifier(built["int8"], backend="tensorflow")
    assert clf.backend_name == "tensorflow"
    reference = DigitClassifier(built["int8"], backend="litert")
    np.testing.assert_array_equal(clf.predict_proba(images), reference.predict_proba(images))


# --- metadata -------------------------------------------------------------------------------


def test_metadata_is_read_and_verified(built, tmp_path):
    clf = DigitClassifier(built["int8"])
    assert clf.metadata is not None and clf.metadata.format == "int8"
    assert DigitClassifier(built["float32"]).metadata is None  # no metadata: defaults
    tampered = tmp_path / "tampered.tflite"
    tampered.write_bytes(tb.tamper_weights(built["int8"].read_bytes()))
    for backend in BACKENDS:
        with pytest.raises(MetadataMismatchError):
            DigitClassifier(tampered, backend=backend)
    assert DigitClassifier(tampered, verify_metadata=False).metadata.format == "int8"


def test_labels_from_metadata_name_the_digits(tmp_path, images):
    plain = tb.float_mlp(WEIGHTS)
    path = tmp_path / "reversed.tflite"
    path.write_bytes(tb.with_metadata(plain, labels=tuple("9876543210")))
    reversed_labels = DigitClassifier(path)
    (tmp_path / "plain.tflite").write_bytes(plain)
    default = DigitClassifier(tmp_path / "plain.tflite")
    for image in images[:10]:
        assert reversed_labels.predict(image).digit == 9 - default.predict(image).digit
    # Every caller sees columns in digit order: the reader and the camera demo take the column
    # as the digit, and Prediction.probabilities is indexed by digit.
    batch = np.stack(images[:10])
    np.testing.assert_array_equal(
        reversed_labels.predict_proba(batch), default.predict_proba(batch)[:, ::-1]
    )
    prediction = reversed_labels.predict(images[0])
    assert prediction.probabilities == default.predict(images[0]).probabilities[::-1]


@pytest.mark.parametrize(
    "fields",
    [
        {"input_normalization": "pixel/127.5-1"},
        {"polarity": "black_on_white"},
        {"input_shape": (32, 32)},
        {"labels": tuple("abcdefghij")},
        {"labels": tuple("0123456780")},
    ],
    ids=["normalization", "polarity", "shape", "labels", "repeated-label"],
)
def test_metadata_this_runtime_cannot_honour_is_refused(tmp_path, fields):
    path = tmp_path / "odd.tflite"
    path.write_bytes(tb.with_metadata(tb.float_mlp(WEIGHTS), **fields))
    with pytest.raises(ModelFormatError, match="does not support"):
        DigitClassifier(path)


# --- bad models -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_files_that_are_not_models_are_refused(tmp_path, built, backend):
    cases = {
        "missing.tflite": None,
        "empty.tflite": b"",
        "text.tflite": b"hello, I am not a model\n" * 10,
        "truncated.tflite": built["float32"].read_bytes()[:200],
    }
    for name, data in cases.items():
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        with pytest.raises(ModelFormatError):
            DigitClassifier(path, backend=backend)
    with pytest.raises(ModelFormatError, match="directory"):
        DigitClassifier(tmp_path, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_models_with_another_signature_are_refused(built, backend):
    with pytest.raises(ModelFormatError, match=r"output shape is \[1, 5\]"):
        DigitClassifier(built["five_classes"], backend=backend)
    with pytest.raises(ModelFormatError, match=r"input shape is \[1, 32, 32\]"):
        DigitClassifier(built["wrong_input"], backend=backend)


# --- bad images -----------------------------------------------------------------------------


def test_predict_batch_names_the_bad_image(built, images):
    clf = DigitClassifier(built["int8"])
    with pytest.raises(ImageError, match="image 2: image contains NaN"):
        clf.predict_batch([images[0], images[1], np.full((28, 28), np.nan)])
    with pytest.raises(ImageError, match="iterable"):
        clf.predict_batch(7)


# --- converted models on MNIST (slow) -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_converted_format_classifies_mnist(tflite_models, mnist, backend):
    accuracies = {}
    for fmt, path in tflite_models.items():
        clf = DigitClassifier(path, backend=backend)
        assert clf.metadata is not None and clf.metadata.format == fmt
        probabilities = clf.predict_proba(mnist.x_test)
        accuracies[fmt] = float((probabilities.argmax(1) == mnist.y_test).mean())
        singles = [clf.predict(image) for image in mnist.x_test[:50]]
        assert [p.digit for p in singles] == list(probabilities[:50].argmax(1))
    assert accuracies["float32"] > 0.9, accuracies
    for fmt, accuracy in accuracies.items():
        assert abs(accuracy - accuracies["float32"]) <= 0.005, (fmt, accuracies)


def test_lazy_names():
    assert runtime.DigitClassifier is DigitClassifier
    assert "DigitClassifier" in dir(runtime)


# --- sharing and odd inputs ------------------------------------------------------------------


def test_one_classifier_shared_by_threads_reads_as_it_does_alone(built):
    # Two threads on one LiteRT interpreter read each other's digits, or raised LiteRT's
    # "reference to internal data" error, before the calls took turns.
    from concurrent.futures import ThreadPoolExecutor

    classifier = DigitClassifier(built["int8"], backend="litert")
    batches = [tb.random_images(200, seed=seed) for seed in (1, 2, 3, 4)]
    alone = [[classifier.predict(image).probabilities for image in batch] for batch in batches]

    def read(batch: np.ndarray) -> list:
        return [classifier.predict(image).probabilities for image in batch]

    with ThreadPoolExecutor(max_workers=4) as pool:
        shared = list(pool.map(read, batches))
    assert shared == alone


def test_each_float_image_of_a_batch_keeps_its_own_scale(built, images):
    classifier = DigitClassifier(built["int8"])
    mixed = images[:4].astype(np.float32) / 255  # 0..1 ...
    mixed[0] *= 255  # ... but the first in 0..255
    one_by_one = np.stack([classifier.predict(image).probabilities for image in mixed])
    np.testing.assert_array_equal(classifier.predict_proba(mixed), one_by_one)
    np.testing.assert_array_equal(
        classifier.predict_proba(mixed), classifier.predict_proba(images[:4])
    )


def test_a_one_channel_image_is_mnist_form(built, images):
    classifier = DigitClassifier(built["int8"])
    assert classifier.predict(images[0][:, :, None]) == classifier.predict(images[0])
    np.testing.assert_array_equal(
        classifier.predict_proba(images[:, :, :, None]), classifier.predict_proba(images)
    )


@pytest.mark.parametrize("wrong", ["0.5", True, b"0.5"])
def test_a_threshold_must_be_a_number(built, wrong):
    with pytest.raises(ValueError, match="threshold must be a number"):
        DigitClassifier(built["int8"], threshold=wrong)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_array_subclasses_read_as_plain_arrays(built, images):
    # np.matrix stays 2-D whatever is done to it: a (1, 784) matrix reached LiteRT as such.
    classifier = DigitClassifier(built["int8"])
    assert classifier.predict(np.matrix(images[0])) == classifier.predict(images[0])
    flat = images[:3].reshape(3, -1)
    np.testing.assert_array_equal(
        classifier.predict_proba(np.matrix(flat)), classifier.predict_proba(images[:3])
    )
