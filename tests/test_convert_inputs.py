"""convert without converting: clear errors for bad inputs, representative sampling, encoding."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from convert.cli import main
from convert.metadata import embed_metadata
from convert.parity import KerasReference, check_parity
from convert.pipeline import normalize_formats
from convert.representative import calibration_batches, stratified_sample
from runtime.cli_common import EXIT_BAD_INPUT
from runtime.errors import ModelFormatError
from runtime.metadata import ModelMetadata

REPO = Path(__file__).resolve().parents[1]
# digit-convert in a fresh interpreter; prints which of TensorFlow and Keras it imported.
CONVERT_NAMING_IMPORTS = (
    "import sys\n"
    "from convert.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(*sorted(name for name in ('tensorflow', 'keras') if name in sys.modules))\n"
    "sys.exit(code)\n"
)


def run_cli(args, capsys):
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, fragment: str) -> None:
    assert code == EXIT_BAD_INPUT
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("digit-convert: error:")]
    assert len(error_lines) == 1, err
    assert fragment in error_lines[0]


@pytest.fixture
def out_dir(tmp_path):
    return tmp_path / "out"


def test_missing_model_is_a_clear_error(tmp_path, out_dir, mnist_path, capsys):
    code, _, err = run_cli(
        [tmp_path / "nope.keras", "--out", out_dir, "--data", mnist_path], capsys
    )
    assert_one_line_error(code, err, "does not exist")
    assert not out_dir.exists()


def test_random_bytes_are_not_a_keras_model(tmp_path, out_dir, mnist_path, capsys):
    bad = tmp_path / "random.keras"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    code, _, err = run_cli([bad, "--out", out_dir, "--data", mnist_path], capsys)
    assert_one_line_error(code, err, "is not a Keras model")


def test_a_keras_file_cut_short_says_so(tmp_path, out_dir, mnist_path, capsys):
    whole = tmp_path / "whole.keras"
    with zipfile.ZipFile(whole, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", bytes(5000))
    cut = tmp_path / "cut.keras"
    cut.write_bytes(whole.read_bytes()[:3000])  # an interrupted copy: the zip's end is missing
    code, _, err = run_cli([cut, "--out", out_dir, "--data", mnist_path], capsys)
    assert_one_line_error(code, err, "is a zip archive cut short")


def test_zip_that_is_not_a_keras_model(tmp_path, out_dir, mnist_path, capsys):
    bad = tmp_path / "notes.keras"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("readme.txt", "hello")
    code, _, err = run_cli([bad, "--out", out_dir, "--data", mnist_path], capsys)
    assert_one_line_error(code, err, "no config.json, model.weights.h5 inside")


def test_h5_file_is_refused_with_a_hint(tmp_path, out_dir, mnist_path, capsys):
    import h5py

    legacy = tmp_path / "model.h5"
    with h5py.File(legacy, "w") as handle:
        handle.create_dataset("weights", data=np.zeros(3))
    code, _, err = run_cli([legacy, "--out", out_dir, "--data", mnist_path], capsys)
    assert_one_line_error(code, err, "HDF5 (legacy Keras .h5)")


def test_keras_archive_with_corrupt_config_is_a_clear_error(tmp_path, out_dir, mnist_path, capsys):
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("config.json", "{not json")
        archive.writestr("model.weights.h5", b"\0" * 16)
    code, _, err = run_cli([broken, "--out", out_dir, "--data", mnist_path], capsys)
    assert_one_line_error(code, err, "Keras cannot load")


def test_model_with_wrong_shapes_is_refused(tmp_path, out_dir, mnist_path, capsys):
    import keras

    inputs = keras.Input(shape=(32, 32))
    flat = keras.layers.Flatten()(inputs)
    wrong = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(flat))
    path = tmp_path / "cifar_sized.keras"
    wrong.save(path)
    code, _, err = run_cli([path, "--out", out_dir, "--data", mnist_path], capsys)
    assert_one_line_error(
        code,
        err,
        "the kit needs (None, 28, 28) or (None, 28, 28, 1) or (None, 784) images -> "
        "(None, 10) class scores",
    )


def keras_lookalike(path: Path) -> Path:
    """A file that passes every check made without Keras, which Keras then cannot load."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
        archive.writestr("model.weights.h5", b"\0" * 16)
    return path


def convert_in_a_process(args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CONVERT_NAMING_IMPORTS, *(str(arg) for arg in args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("folder", "said"),
    [("absent", "does not exist"), ("empty", "no MNIST dataset in")],
)
def test_a_bad_data_folder_is_refused_before_tensorflow_loads(folder, said, tmp_path):
    """The model file passes the checks made without Keras, so only the order tells: the data
    is checked first, in a fraction of a second, and TensorFlow never imported."""
    data = tmp_path / folder
    if folder == "empty":
        data.mkdir()
    model = keras_lookalike(tmp_path / "model.keras")
    done = convert_in_a_process([model, "--out", tmp_path / "out", "--data", data])
    assert done.returncode == EXIT_BAD_INPUT
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith("digit-convert: error: ") and said in done.stderr
    assert str(data) in done.stderr
    assert done.stdout.strip() == ""  # neither tensorflow nor keras imported


def test_unknown_format_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "m.keras"), "--out", str(tmp_path), "--formats", "int8,int4"])
    assert exit_info.value.code == 2
    assert "unknown format(s) int4" in capsys.readouterr().err


def test_format_list_parsing():
    assert normalize_formats("int8, float32,int8") == ["int8", "float32"]
    assert normalize_formats("all") == ["float32", "float16", "dynamic", "int8"]
    with pytest.raises(ValueError, match="unknown format"):
        normalize_formats("")


def test_non_tflite_bytes_raise_model_format_error(tmp_path):
    fake = tmp_path / "model.tflite"
    fake.write_bytes(b"PK\x03\x04 definitely not a flatbuffer")
    reference = KerasReference(
        images=np.zeros((2, 28, 28), np.uint8),
        labels=np.zeros(2, np.int64),
        probabilities=np.full((2, 10), 0.1),
    )
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        check_parity(fake, reference)
    with pytest.raises(ModelFormatError, match="does not exist"):
        check_parity(tmp_path / "missing.tflite", reference)
    metadata = ModelMetadata(format="int8", source_model_sha256="0" * 64, weights_sha256="0" * 64)
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        embed_metadata(fake.read_bytes(), metadata)


def test_representative_sample_is_stratified_by_class(mnist):
    size = 1000
    indices = stratified_sample(mnist.y_train, size, seed=3)
    assert len(indices) == len(set(indices.tolist())) == size
    sampled = np.bincount(mnist.y_train[indices], minlength=10)
    expected = size * np.bincount(mnist.y_train, minlength=10) / len(mnist.y_train)
    assert np.all(np.abs(sampled - expected) < 1.0), (sampled, expected)


def test_representative_sample_is_seeded(mnist):
    first = stratified_sample(mnist.y_train, 500, seed=7)
    np.testing.assert_array_equal(first, stratified_sample(mnist.y_train, 500, seed=7))
    assert not np.array_equal(first, stratified_sample(mnist.y_train, 500, seed=8))


def test_representative_size_is_checked(mnist):
    with pytest.raises(ValueError, match="between 10"):
        stratified_sample(mnist.y_train, 5)
    with pytest.raises(ValueError, match="and 60000"):
        stratified_sample(mnist.y_train, 60001)
    np.testing.assert_array_equal(stratified_sample(mnist.y_test, 10000), np.arange(10000))


def test_calibration_batches_are_single_normalized_images(mnist):
    batches = list(calibration_batches(mnist.x_train[:3])())
    assert len(batches) == 3
    np.testing.assert_array_equal(batches[1][0], mnist.x_train[1:2].astype(np.float32) / 255)
    with pytest.raises(ValueError, match=r"in 0\.\.1"):
        calibration_batches(mnist.x_train[:3].astype(np.float32))
    with pytest.raises(ValueError, match="uint8 pixels or floats"):
        calibration_batches(mnist.x_train[:3].astype(np.int32))


def test_an_earlier_report_keeps_the_formats_not_converted_again(tmp_path):
    from convert.pipeline import PARITY_FILE, _earlier_formats

    (tmp_path / "model_float16.tflite").write_bytes(b"x")
    entry = {"path": "model_float16.tflite", "passed": True}
    gone = {"path": "model_dynamic.tflite", "passed": True}  # its file was removed since
    earlier = {"source_model_sha256": "abc", "formats": {"float16": entry, "dynamic": gone}}
    (tmp_path / PARITY_FILE).write_text(json.dumps({**earlier}))
    kept = _earlier_formats(tmp_path, "abc", ["int8"])
    assert kept == {"float16": {**entry, "earlier_run": True}}
    assert _earlier_formats(tmp_path, "abc", ["float16"]) == {}  # converted again: replaced
    assert _earlier_formats(tmp_path, "another model", ["int8"]) == {}
    (tmp_path / PARITY_FILE).write_text("{ cut short")
    assert _earlier_formats(tmp_path, "abc", ["int8"]) == {}


def test_the_conversion_an_out_folder_holds_is_known_by_its_report_or_its_files(tmp_path):
    """What convert refuses to mix with another model's files without --overwrite."""
    import tflite_builder as tb

    from convert.pipeline import PARITY_FILE, earlier_conversion, remove_conversion

    assert earlier_conversion(tmp_path) is None
    model = tb.with_metadata(tb.float_mlp(tb.FloatMlp.random(seed=4, hidden=8)))
    (tmp_path / "model_float32.tflite").write_bytes(model)  # its metadata names "0" * 64
    (tmp_path / "model_int8.tflite").write_bytes(b"not a model")
    assert earlier_conversion(tmp_path) == "0" * 64
    (tmp_path / PARITY_FILE).write_text(json.dumps({"source_model_sha256": "ab" * 32}))
    assert earlier_conversion(tmp_path) == "ab" * 32
    (tmp_path / "rejected").mkdir()
    (tmp_path / "rejected" / "model_dynamic.tflite.rejected").write_bytes(model)
    (tmp_path / "model.keras").write_bytes(b"the trained model stays")
    remove_conversion(tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["model.keras"]


def test_a_training_report_with_a_threshold_that_is_no_number_is_a_clear_error(tmp_path):
    """A metrics.json beside the model, naming it, with a threshold of null, text or a list
    raised a TypeError from a comparison; out of [0, 1] it was taken for no report at all."""
    from convert.source import TRAINING_REPORT, training_threshold
    from runtime.errors import DigitKitError
    from train.data import sha256_of

    model = tmp_path / "model.keras"
    model.write_bytes(b"a model")
    report = tmp_path / TRAINING_REPORT

    def write(threshold, sha: str = sha256_of(model)) -> None:
        report.write_text(json.dumps({"model_sha256": sha, "threshold": {"threshold": threshold}}))

    write(0.93)
    assert training_threshold(model) == 0.93
    write(0.93, sha="another run")
    assert training_threshold(model) is None
    for bad in (None, "0.9", [0.9], True, 1.5, -0.1):
        write(bad)
        with pytest.raises(DigitKitError, match=r"not a number from 0 to 1"):
            training_threshold(model)
