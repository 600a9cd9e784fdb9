"""Embed the kit's ``ModelMetadata`` in a ``.tflite`` flatbuffer's own ``metadata`` list.

The JSON goes into a new buffer named ``runtime.metadata.METADATA_NAME``; the model's tensors
and their buffers are untouched, so ``weights_digest`` is the same before and after.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runtime.errors import ModelFormatError
from runtime.metadata import METADATA_NAME, ModelMetadata, load_flatbuffer, weights_digest


def build_metadata(
    model: bytes, fmt: str, source_model_sha256: str, parity: dict[str, Any]
) -> ModelMetadata:
    """The metadata for ``model`` bytes, bound to their weights by ``weights_sha256``."""
    return ModelMetadata(
        format=fmt,
        source_model_sha256=source_model_sha256,
        weights_sha256=weights_digest(model),
        parity=parity,
    )


def _entry_name(entry) -> str:
    name = entry.name
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def embed_metadata(model: bytes, metadata: ModelMetadata) -> bytes:
    """Return ``model`` with ``metadata`` embedded (replacing an earlier kit entry, if any)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    load_flatbuffer(model)
    if metadata.weights_sha256 != weights_digest(model):
        raise ModelFormatError(
            "the metadata's weights_sha256 does not describe this model's weights"
        )
    tree = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    payload = np.frombuffer(metadata.to_json().encode("utf-8"), dtype=np.uint8)
    tree.metadata = tree.metadata or []
    existing = [entry for entry in tree.metadata if _entry_name(entry) == METADATA_NAME]
    if existing:
        tree.buffers[existing[0].buffer].data = payload
    else:
        buffer = schema.BufferT()
        buffer.data = payload
        tree.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(tree.buffers) - 1
        tree.metadata.append(entry)
    embedded = bytes(flatbuffer_utils.convert_object_to_bytearray(tree))
    if weights_digest(embedded) != metadata.weights_sha256:
        raise ModelFormatError(
            "embedding metadata changed the model's weights; refusing to write it"
        )
    return embedded
