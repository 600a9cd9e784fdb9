"""convert on a real (small) trained model: every format passes the gate, broken files fail it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convert.cli import main
from convert.export import ConversionError, export_tflite
from convert.metadata import build_metadata, embed_metadata
from convert.parity import check_parity, gate_classifier, keras_reference
from convert.pipeline import PARITY_FILE, accepted_path, rejected_path
from convert.representative import representative_images
from convert.source import load_keras_model, logits_model
from runtime.classifier import DigitClassifier
from runtime.cli_common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK
from runtime.errors import MetadataMismatchError, ModelFormatError
from runtime.metadata import METADATA_NAME, embedded_metadata, weights_digest
from train.data import sha256_of

pytestmark = pytest.mark.slow

FORMATS = ("float32", "float16", "dynamic", "int8")
INT8_FILE_BUDGET = (
    720_000  # bytes: the int8 weights (669,706) plus graph, quantization and metadata
)


@pytest.fixture(scope="module")
def keras_model(small_keras_model):
    return load_keras_model(small_keras_model)


@pytest.fixture(scope="module")
def reference(keras_model, mnist):
    return keras_reference(keras_model, mnist.x_test, mnist.y_test)


def unbaked_float32(keras_model) -> bytes:
    """A conversion with no weights baked in (Keras 3 model + from_concrete_functions)."""
    import tensorflow as tf

    function = tf.function(lambda images: keras_model(images))
    concrete = function.get_concrete_function(tf.TensorSpec([None, 28, 28], tf.float32))
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete], keras_model).convert())


def flip_largest_weight_buffer(model: bytes) -> bytes:
    """Flip the top bit of every byte in the model's largest weight buffer, in place in the file."""
    import tflite

    parsed = tflite.Model.GetRootAsModel(model, 0)
    largest = max(range(parsed.BuffersLength()), key=lambda i: parsed.Buffers(i).DataLength())
    weights = parsed.Buffers(largest).DataAsNumpy().tobytes()
    start = model.find(weights)
    assert start > 0 and model.find(weights, start + 1) == -1
    tampered = bytearray(model)
    tampered[start : start + len(weights)] = bytes(byte ^ 0x80 for byte in weights)
    return bytes(tampered)


def test_every_format_passes_the_gate(tflite_models, small_keras_model, mnist):
    assert sorted(tflite_models) == sorted(FORMATS)
    out = tflite_models["int8"].parent
    report = json.loads((out / PARITY_FILE).read_text())
    assert report["passed"] is True
    assert report["source_model_sha256"] == sha256_of(small_keras_model)
    assert report["thresholds"] == {"max_accuracy_drop": 0.2, "min_agreement": 99.5}
    assert report["test_images"] == len(mnist.y_test) == 10000
    for fmt, path in tflite_models.items():
        entry = report["formats"][fmt]
        assert path == accepted_path(out, fmt) and (out / entry["path"]) == path
        assert entry["passed"] is True and entry["failures"] == []
        assert report["keras_accuracy"] - entry["accuracy"] <= 0.2
        assert entry["agreement"] >= 99.5
        assert entry["size_bytes"] == path.stat().st_size
        assert not rejected_path(out, fmt).exists()
    assert not list(out.glob(".*candidate*"))
    sizes = {fmt: report["formats"][fmt]["size_bytes"] for fmt in FORMATS}
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]
    assert sizes["dynamic"] < sizes["float16"]
    assert sizes["int8"] <= INT8_FILE_BUDGET


def test_accepted_files_carry_verified_metadata(tflite_models, small_keras_model):
    for fmt, path in tflite_models.items():
        model = path.read_bytes()
        metadata = embedded_metadata(model, verify=True)
        assert metadata is not None
        assert metadata.format == fmt
        assert metadata.source_model_sha256 == sha256_of(small_keras_model)
        assert metadata.weights_sha256 == weights_digest(model)
        assert metadata.parity["passed"] is True
        assert metadata.parity["thresholds"] == {"max_accuracy_drop": 0.2, "min_agreement": 99.5}


def test_int8_takes_raw_uint8_pixels_and_says_so(tflite_models):
    classifier = DigitClassifier(tflite_models["int8"], backend="litert")
    assert classifier.input_spec.dtype == np.uint8
    assert classifier.input_spec.raw_pixels  # scale 1/255, zero point 0
    parity = classifier.metadata.parity
    assert parity["raw_pixel_input"] is True
    assert parity["input"] == classifier.input_spec.to_dict()
    assert parity["representative"] == {"size": 1000, "seed": 0}


def test_files_output_logits_and_confidences_keep_their_resolution(tflite_models, mnist):
    """The softmax runs in float32 in the runtime: int8 confidences are not steps of 1/256."""
    for fmt, path in tflite_models.items():
        classifier = DigitClassifier(path, backend="litert")
        assert classifier.output_kind == "logits" == classifier.metadata.output, fmt
        confidences = classifier.predict_proba(mnist.x_test[:2000]).max(axis=1)
        confident = confidences[confidences > 0.99]
        assert len(np.unique(confident)) > 100, fmt
        assert confident.max() > 0.999, fmt


def test_gate_numbers_are_the_runtime_s_numbers(tflite_models, reference):
    """The gate's accuracy is what DigitClassifier gives on the test set, on every backend."""
    from sklearn.metrics import accuracy_score

    for fmt, path in tflite_models.items():
        recorded = embedded_metadata(path.read_bytes()).parity["accuracy"]
        for backend in ("litert", "numpy"):
            predicted = DigitClassifier(path, backend=backend).predict_proba(reference.images)
            accuracy = 100 * accuracy_score(reference.labels, predicted.argmax(axis=1))
            assert accuracy == pytest.approx(recorded, abs=0.011), (fmt, backend)


def test_logits_model_keeps_the_weights_and_the_ranking(keras_model, mnist):
    logits = logits_model(keras_model)
    images = mnist.x_test[:256].astype(np.float32) / 255
    probabilities = keras_model.predict(images, verbose=0)
    scores = logits.predict(images, verbose=0)
    assert logits.count_params() == keras_model.count_params()
    np.testing.assert_array_equal(scores.argmax(axis=1), probabilities.argmax(axis=1))
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    np.testing.assert_allclose(exp / exp.sum(axis=1, keepdims=True), probabilities, atol=1e-5)


def test_metadata_round_trip_and_reembedding(tflite_models, reference):
    original = tflite_models["dynamic"].read_bytes()
    digest = weights_digest(original)
    metadata = build_metadata(original, "dynamic", "ab" * 32, {"note": "re-embedded"})
    embedded = embed_metadata(original, metadata)
    assert embedded_metadata(embedded) == metadata
    assert weights_digest(embedded) == digest
    import tflite

    names = [
        tflite.Model.GetRootAsModel(embedded, 0).Metadata(i).Name().decode()
        for i in range(tflite.Model.GetRootAsModel(embedded, 0).MetadataLength())
    ]
    assert names.count(METADATA_NAME) == 1
    images = reference.images[:32]
    np.testing.assert_array_equal(
        gate_classifier(embedded).predict_proba(images),
        gate_classifier(original).predict_proba(images),
    )


def test_metadata_of_another_model_is_refused(tflite_models):
    int8 = tflite_models["int8"].read_bytes()
    foreign = embedded_metadata(tflite_models["float32"].read_bytes())
    with pytest.raises(ModelFormatError, match="does not describe this model's weights"):
        embed_metadata(int8, foreign)


def test_tampered_weights_are_caught(tflite_models, reference):
    tampered = flip_largest_weight_buffer(tflite_models["int8"].read_bytes())
    with pytest.raises(MetadataMismatchError, match="do not match its metadata"):
        embedded_metadata(tampered, verify=True)
    result = check_parity(tampered, reference, fmt="int8", timing_images=0)
    assert not result.passed
    assert any("agreement with Keras" in failure for failure in result.failures)


def test_unbaked_weights_fail_the_gate(keras_model, reference):
    result = check_parity(
        unbaked_float32(logits_model(keras_model)), reference, fmt="float32", timing_images=0
    )
    assert not result.passed
    assert any("agreement with Keras" in failure for failure in result.failures), result.failures


def test_cli_rejects_a_broken_conversion(
    monkeypatch, small_keras_model, keras_model, mnist_path, tmp_path, capsys
):
    out = tmp_path / "out"
    stale = accepted_path(out, "float32")
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an older accepted file")
    broken = unbaked_float32(logits_model(keras_model))
    monkeypatch.setattr("convert.pipeline.export_tflite", lambda *args, **kwargs: broken)

    argv = [
        small_keras_model,
        "--out",
        out,
        "--formats",
        "float32",
        "--data",
        mnist_path,
        "--timing-images",
        "0",
    ]
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()

    assert code == EXIT_CHECK_FAILED
    assert "parity gate failed for float32" in captured.err
    assert "FAIL: " in captured.out and "Traceback" not in captured.err
    assert not stale.exists()
    assert not list(out.glob("*.tflite")) and not list(out.glob(".*"))
    rejected = rejected_path(out, "float32")
    metadata = embedded_metadata(rejected.read_bytes())
    assert metadata.parity["passed"] is False and metadata.parity["failures"]
    report = json.loads((out / PARITY_FILE).read_text())
    assert report["passed"] is False
    assert report["formats"]["float32"]["path"] == "rejected/model_float32.tflite.rejected"


def test_cli_converts_int8_with_other_io_types_and_replaces_a_rejected_file(
    small_keras_model, mnist_path, tmp_path, capsys
):
    out = tmp_path / "out"
    stale_rejection = rejected_path(out, "int8")
    stale_rejection.parent.mkdir(parents=True)
    stale_rejection.write_bytes(b"an older rejected file")
    argv = [small_keras_model, "--out", out, "--formats", "int8", "--data", mnist_path]
    argv += [
        "--int8-input",
        "int8",
        "--int8-output",
        "int8",
        "--representative-size",
        "300",
        "--seed",
        "5",
    ]
    argv += ["--timing-images", "100"]
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()

    assert code == EXIT_OK, captured.err
    assert "int8" in captured.out and "PASS" in captured.out
    assert not stale_rejection.exists()
    classifier = DigitClassifier(accepted_path(out, "int8"), backend="litert")
    assert (classifier.input_spec.dtype, classifier.output_spec.dtype) == (np.int8, np.int8)
    report = json.loads((out / PARITY_FILE).read_text())
    assert report["representative"]["size"] == 300 and report["representative"]["seed"] == 5
    assert sum(report["representative"]["class_counts"].values()) == 300
    assert report["formats"]["int8"]["mean_ms_per_image"] > 0


def test_uint8_input_must_map_raw_pixels(keras_model, mnist):
    dim = (
        representative_images(mnist.x_train, mnist.y_train, size=100) // 2
    )  # never brighter than 127
    with pytest.raises(ConversionError, match="not 1/255 and 0"):
        export_tflite(logits_model(keras_model), "int8", representative=dim, int8_input="uint8")


def test_converting_one_format_again_keeps_the_others_in_the_report(
    small_keras_model, mnist_path, tmp_path, capsys
):
    out = tmp_path / "out"
    common = [str(small_keras_model), "--out", str(out), "--data", str(mnist_path)]
    common += ["--timing-images", "0"]
    assert main([*common, "--formats", "float16"]) == EXIT_OK
    assert main([*common, "--formats", "dynamic"]) == EXIT_OK
    capsys.readouterr()
    report = json.loads((out / PARITY_FILE).read_text())
    assert set(report["formats"]) == {"float16", "dynamic"} and report["passed"] is True
    assert report["formats"]["float16"]["earlier_run"] is True
    assert "earlier_run" not in report["formats"]["dynamic"]


def test_another_models_conversion_is_replaced_only_with_overwrite(
    small_keras_model, keras_model, mnist_path, tmp_path, capsys
):
    """An interrupted or partial conversion of a second model into the folder of a first one
    left the two models' files side by side, under a report of either."""
    out = tmp_path / "out"
    common = ["--out", str(out), "--data", str(mnist_path), "--timing-images", "0"]
    assert main([str(small_keras_model), *common, "--formats", "float16"]) == EXIT_OK
    other = tmp_path / "other.keras"
    keras_model.save(other)  # the same weights in another file: another model to convert
    capsys.readouterr()
    assert main([str(other), *common, "--formats", "dynamic"]) == EXIT_BAD_INPUT
    assert "holds the conversion of another model; pass --overwrite" in capsys.readouterr().err
    assert accepted_path(out, "float16").exists() and not accepted_path(out, "dynamic").exists()
    assert main([str(other), *common, "--formats", "dynamic", "--overwrite"]) == EXIT_OK
    assert not accepted_path(out, "float16").exists() and accepted_path(out, "dynamic").exists()
    assert set(json.loads((out / PARITY_FILE).read_text())["formats"]) == {"dynamic"}


@pytest.mark.parametrize("layout", [(28, 28, 1), (784,)])
def test_models_taking_other_pixel_layouts_convert_to_files_taking_images(
    layout, tmp_path, mnist, mnist_path
):
    import keras

    inputs = keras.Input(shape=layout)
    hidden = keras.layers.Dense(32, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(mnist.x_train[:3000].reshape(-1, *layout) / 255.0, mnist.y_train[:3000], verbose=0)
    source = tmp_path / "user.keras"
    model.save(source)
    out = tmp_path / "out"
    argv = [source, "--out", out, "--formats", "float32,int8", "--data", mnist_path]
    argv += ["--min-agreement", "98"]  # a barely trained model has many near ties
    assert main([str(arg) for arg in argv]) == EXIT_OK
    expected = model.predict(mnist.x_test[:500].reshape(-1, *layout) / 255.0, verbose=0)
    for fmt, tolerance in (("float32", 1e-5), ("int8", 0.1)):
        classifier = DigitClassifier(out / f"model_{fmt}.tflite")
        assert classifier.input_spec.shape[1:] == (28, 28)
        probabilities = classifier.predict_proba(mnist.x_test[:500])
        assert np.abs(probabilities - expected).max() < tolerance


def test_a_model_ending_in_logits_is_compared_by_probabilities(tmp_path, mnist, mnist_path):
    """Its raw Keras logits were compared with the file's probabilities: a max probability
    difference of 12 in the table, parity.json and the file's metadata."""
    import keras

    inputs = keras.Input(shape=(28, 28))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(mnist.x_train[:3000] / 255.0, mnist.y_train[:3000], verbose=0)
    source = tmp_path / "logits.keras"
    model.save(source)
    out = tmp_path / "out"
    argv = [source, "--out", out, "--formats", "float32", "--data", mnist_path]
    assert main([str(arg) for arg in [*argv, "--timing-images", "0"]]) == EXIT_OK
    parity = json.loads((out / PARITY_FILE).read_text())["formats"]["float32"]
    assert parity["max_abs_prob_diff"] < 1e-5
