"""The metadata binds to everything that defines the computation, not only the weight bytes."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.errors import MetadataMismatchError, ModelFormatError
from runtime.metadata import ModelMetadata, read_metadata, weights_digest


def rewrite(model: bytes, change) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    model_object = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    change(model_object)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model_object))


def first_quantized_weight(model_object):
    subgraph = model_object.subgraphs[0]
    for tensor in subgraph.tensors:
        if tensor.quantization is not None and tensor.quantization.scale is not None:
            data = model_object.buffers[tensor.buffer].data
            if data is not None and len(data) > 1000:
                return tensor
    raise AssertionError("no quantized weight tensor")


@pytest.mark.slow
def test_rescaled_quantization_is_caught(tflite_models):
    original = tflite_models["int8"].read_bytes()
    assert read_metadata(original) is not None
    unchanged = rewrite(original, lambda m: None)
    assert weights_digest(unchanged) == weights_digest(original)

    def triple_scales(model_object):
        tensor = first_quantized_weight(model_object)
        tensor.quantization.scale = (np.asarray(tensor.quantization.scale) * 3).tolist()

    tampered = rewrite(original, triple_scales)
    with pytest.raises(MetadataMismatchError, match="do not match its metadata"):
        read_metadata(tampered)
    assert read_metadata(tampered, verify=False) is not None


def test_not_a_tflite_file():
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        read_metadata(b"PK\x03\x04" + bytes(64))
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        read_metadata(b"")


def test_metadata_json_round_trip_and_bad_json():
    meta = ModelMetadata(format="int8", source_model_sha256="a" * 64, weights_sha256="b" * 64)
    assert ModelMetadata.from_json(meta.to_json()) == meta
    with pytest.raises(ModelFormatError, match="unknown metadata schema"):
        ModelMetadata.from_json('{"schema": "other/9"}')
    with pytest.raises(ModelFormatError, match="metadata is not valid"):
        ModelMetadata.from_json("{not json")
