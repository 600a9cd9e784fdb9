"""runtime.model_file and runtime.metadata: checked model files, metadata bound to the computation,
and a seeded fuzz test proving a damaged file raises ModelFormatError and nothing else, on every
backend, without crashing the interpreter."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import tflite_builder as tb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convert import flatbuffer_io
from convert.metadata import build_metadata, embed_metadata
from runtime.backends import available_backends
from runtime.classifier import DigitClassifier
from runtime.errors import MetadataMismatchError, ModelFormatError
from runtime.metadata import ModelMetadata, embedded_metadata, weights_digest
from runtime.model_file import check_flatbuffer, load_model

WEIGHTS = tb.FloatMlp.random(seed=21, hidden=12)
BACKENDS = [name for name in ("litert", "numpy") if name in available_backends()]
IMAGES = tb.random_images(3, seed=5)


def rewrite(model: bytes, change) -> bytes:
    tree = flatbuffer_io.unpack(model)
    change(tree)
    return flatbuffer_io.pack(tree)


def models() -> dict[str, bytes]:
    return {
        "int8": tb.with_metadata(tb.int8_mlp(WEIGHTS, softmax=False), format="int8"),
        "float32": tb.with_metadata(tb.float_mlp(WEIGHTS, softmax=False)),
        "float16": tb.with_metadata(tb.float_mlp(WEIGHTS, weight_type="float16"), format="float16"),
        "dynamic": tb.with_metadata(tb.float_mlp(WEIGHTS, weight_type="dynamic"), format="dynamic"),
    }


MODELS = models()


def test_metadata_json_round_trip_and_bad_json():
    meta = ModelMetadata(format="int8", source_model_sha256="a" * 64, weights_sha256="b" * 64)
    assert ModelMetadata.from_json(meta.to_json()) == meta
    with pytest.raises(ModelFormatError, match="another digit-kit version"):
        ModelMetadata.from_json('{"schema": "digit-kit/1"}')
    with pytest.raises(ModelFormatError, match="metadata is not valid"):
        ModelMetadata.from_json("{not json")
    bad_output = dataclasses.replace(meta, output="scores").to_json()
    with pytest.raises(ModelFormatError, match="unknown output 'scores'"):
        ModelMetadata.from_json(bad_output)
    bad_threshold = dataclasses.replace(meta, threshold=1.5).to_json()
    with pytest.raises(ModelFormatError, match=r"threshold 1\.5"):
        ModelMetadata.from_json(bad_threshold)


def test_not_a_tflite_file(tmp_path):
    with pytest.raises(ModelFormatError, match=r"not a TFLite model.*python -m convert"):
        load_model(b"PK\x03\x04" + bytes(64))  # a .keras file (a zip archive)
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        load_model(b"")
    with pytest.raises(ModelFormatError, match="does not exist"):
        load_model(tmp_path / "missing.tflite")
    with pytest.raises(ModelFormatError, match="is a directory"):
        load_model(tmp_path)
    with pytest.raises(ModelFormatError, match="the model path is empty"):
        load_model("")  # Path("") is ".", which read as "model path '.' is a directory"
    os.mkfifo(tmp_path / "pipe.tflite")  # read, it would wait for a writer forever
    for endless in (tmp_path / "pipe.tflite", Path("/dev/zero")):  # /dev/zero: bytes forever
        with pytest.raises(ModelFormatError, match="not a regular file"):
            load_model(endless)


def test_a_model_file_cut_short_says_so():
    whole = MODELS["int8"]
    for end in (len(whole) // 10, len(whole) - 100):
        with pytest.raises(
            ModelFormatError, match=r"points past its own end .* cut short or corrupt"
        ):
            load_model(whole[:end])


def test_output_kind_comes_from_metadata_or_the_graph():
    assert load_model(MODELS["int8"]).output_kind == "logits"
    assert load_model(tb.int8_mlp(WEIGHTS)).output_kind == "probabilities"
    assert load_model(tb.int8_mlp(WEIGHTS, softmax=False)).output_kind == "logits"
    assert load_model(tb.float_mlp(WEIGHTS)).output_kind == "probabilities"


def test_operators_reading_what_no_earlier_one_wrote_are_refused():
    """Interpreters run operators in their order; a graph going round in a loop (one flipped
    tensor index can make one) would otherwise hang the walk that finds the output's kind."""
    graph = tb.GraphBuilder()
    a = graph.tensor("a", (1, 10), np.float32)
    b = graph.tensor("b", (1, 10), np.float32)
    graph.op("DEQUANTIZE", [b], [a])
    graph.op("QUANTIZE", [a], [b])
    with pytest.raises(ModelFormatError, match="operator 0 reads a tensor that no earlier"):
        load_model(graph.build([a], [a]))
    twice = tb.GraphBuilder()
    x = twice.tensor("x", (1, 10), np.float32)
    y = twice.tensor("y", (1, 10), np.float32)
    twice.op("DEQUANTIZE", [x], [y])
    twice.op("QUANTIZE", [x], [y])
    with pytest.raises(ModelFormatError, match="operators 0 and 1 write one tensor"):
        load_model(twice.build([x], [y]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_constants_stored_past_the_end_of_the_file_are_refused(backend):
    """Large models keep constants outside the flatbuffer, by offset: one past the file's end
    would otherwise read as no data, and the NumPy backend would run without it."""

    def move_a_bias_out(tree):
        bias = next(t for t in tree.subgraphs[0].tensors if t.name in (b"b1", "b1"))
        buffer = tree.buffers[bias.buffer]
        buffer.size, buffer.offset, buffer.data = len(buffer.data), 10**9, None

    model = rewrite(tb.float_mlp(WEIGHTS, softmax=False), move_a_bias_out)
    with pytest.raises(ModelFormatError, match="data lies past the end of the file"):
        DigitClassifier(model, backend=backend).predict_proba(IMAGES)


@pytest.mark.parametrize("backend", BACKENDS)
def test_logits_and_softmax_models_give_the_same_probabilities(backend):
    with_softmax = DigitClassifier(tb.float_mlp(WEIGHTS), backend=backend)
    logits = DigitClassifier(tb.float_mlp(WEIGHTS, softmax=False), backend=backend)
    np.testing.assert_allclose(
        logits.predict_proba(IMAGES), with_softmax.predict_proba(IMAGES), atol=1e-6
    )


def test_embedding_keeps_the_digest_and_replaces_an_earlier_entry():
    original = MODELS["dynamic"]
    digest = weights_digest(original)
    metadata = build_metadata(original, "dynamic", "ab" * 32, {"note": "re-embedded"})
    embedded = embed_metadata(original, metadata)
    assert embedded_metadata(embedded) == metadata
    assert weights_digest(embedded) == digest
    parsed = check_flatbuffer(embedded)
    assert parsed.MetadataLength() == 1


def test_rescaled_quantization_is_caught():
    original = MODELS["int8"]
    assert weights_digest(rewrite(original, lambda tree: None)) == weights_digest(original)

    def triple_scales(tree):
        tensor = tree.subgraphs[0].tensors[4]  # the first layer's int8 weights
        tensor.quantization.scale = (np.asarray(tensor.quantization.scale) * 3).tolist()

    tampered = rewrite(original, triple_scales)
    with pytest.raises(MetadataMismatchError, match="do not match its metadata"):
        load_model(tampered)
    assert load_model(tampered, verify_metadata=False).metadata is not None


def test_a_changed_operator_is_caught():
    """Operators are part of what the metadata binds: a ReLU turned off changes the results."""
    original = MODELS["float32"]

    def drop_relu(tree):
        fully_connected = [op for op in tree.subgraphs[0].operators if op.builtinOptions]
        fully_connected[1].builtinOptions.fusedActivationFunction = 0

    with pytest.raises(MetadataMismatchError):
        load_model(rewrite(original, drop_relu))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_bias_with_a_zero_point_is_refused(backend):
    """An int32 bias is quantized symmetrically: with a zero point, LiteRT's delegate cannot
    prepare the graph and the NumPy backend would add a wrong offset."""

    def shift_bias(tree):
        bias = next(t for t in tree.subgraphs[0].tensors if t.type == 2 and t.quantization)
        bias.quantization.zeroPoint = [7] * len(bias.quantization.scale)

    with pytest.raises(ModelFormatError, match="zero point"):
        DigitClassifier(
            rewrite(MODELS["int8"], shift_bias), backend=backend, verify_metadata=False
        ).predict_proba(IMAGES)


def damaged(model: bytes, data: st.DataObject) -> bytes:
    """A byte-flipped, truncated or table-swapped copy of ``model``."""
    kind = data.draw(st.sampled_from(["flip", "truncate", "swap", "word"]))
    damaged_model = bytearray(model)
    size = len(model)
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, size - 1))
            damaged_model[position] ^= data.draw(st.integers(1, 255))
    elif kind == "truncate":
        damaged_model = damaged_model[: data.draw(st.integers(0, size - 1))]
    elif kind == "swap":  # two 4-byte-aligned words, e.g. two offsets into the tables
        first, second = (data.draw(st.integers(0, size // 4 - 1)) * 4 for _ in range(2))
        damaged_model[first : first + 4], damaged_model[second : second + 4] = (
            model[second : second + 4],
            model[first : first + 4],
        )
    else:  # an offset or length overwritten with an arbitrary 32-bit value
        position = data.draw(st.integers(0, size // 4 - 1)) * 4
        damaged_model[position : position + 4] = data.draw(st.binary(min_size=4, max_size=4))
    return bytes(damaged_model)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fmt", sorted(MODELS))
@settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data(), verify=st.booleans())
def test_damaged_files_raise_model_format_error_only(fmt, backend, data, verify):
    model = damaged(MODELS[fmt], data)
    try:
        classifier = DigitClassifier(model, backend=backend, verify_metadata=verify)
        probabilities = classifier.predict_proba(IMAGES)
        classifier.predict(IMAGES[0])
    except ModelFormatError:
        return
    assert probabilities.shape == (len(IMAGES), 10)


def test_read_metadata_takes_a_path_or_bytes_and_checks_the_file(tmp_path):
    import runtime

    path = tmp_path / "model.tflite"
    path.write_bytes(MODELS["int8"])
    assert runtime.read_metadata(path) == runtime.read_metadata(MODELS["int8"])
    assert runtime.read_metadata(str(path)).format == "int8"
    for damaged_model in (b"not a model at all", MODELS["int8"][:500]):
        with pytest.raises(ModelFormatError):
            runtime.read_metadata(damaged_model)
    with pytest.raises(ModelFormatError, match="does not exist"):
        runtime.read_metadata(tmp_path / "missing.tflite")
