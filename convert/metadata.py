"""Embed the kit's ``ModelMetadata`` in a ``.tflite`` flatbuffer's own ``metadata`` list.

The JSON goes into a new buffer named ``runtime.metadata.METADATA_NAME``; the model's tensors
and their buffers are untouched, so ``weights_digest`` is the same before and after.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convert import flatbuffer_io
from runtime.errors import ModelFormatError
from runtime.metadata import METADATA_NAME, ModelMetadata, weights_digest
from runtime.model_file import check_flatbuffer, output_kind


def build_metadata(
    model: bytes,
    fmt: str,
    source_model_sha256: str,
    parity: dict[str, Any],
    threshold: float | None = None,
) -> ModelMetadata:
    """The metadata for ``model`` bytes, bound to their weights by ``weights_sha256``; whether
    the output holds logits or probabilities is read from the graph."""
    output = output_kind(check_flatbuffer(model))
    return ModelMetadata(
        format=fmt,
        source_model_sha256=source_model_sha256,
        weights_sha256=weights_digest(model),
        output=output,
        threshold=threshold,
        parity=parity,
    )


def _entry_name(entry) -> str:
    name = entry.name
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def embed_metadata(model: bytes, metadata: ModelMetadata) -> bytes:
    """Return ``model`` with ``metadata`` embedded (replacing an earlier kit entry, if any)."""
    check_flatbuffer(model)
    if metadata.weights_sha256 != weights_digest(model):
        raise ModelFormatError(
            "the metadata's weights_sha256 does not describe this model's weights"
        )
    schema = flatbuffer_io.schema()
    tree = flatbuffer_io.unpack(model)
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
    embedded = flatbuffer_io.pack(tree)
    check_flatbuffer(embedded)
    if weights_digest(embedded) != metadata.weights_sha256:
        raise ModelFormatError(
            "embedding metadata changed the model's weights; refusing to write it"
        )
    return embedded
