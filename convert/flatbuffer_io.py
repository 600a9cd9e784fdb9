"""Unpack and pack ``.tflite`` flatbuffers: the kit's one model writer.

Used by ``convert.metadata`` to embed the kit's metadata and by the tests' model builder.
Devices read models with the ``tflite`` schema package, which installs everywhere (32-bit ARM
included) but has no object API to rebuild a file; writing uses the object API of the schema
that LiteRT ships (``ai_edge_litert.schema_py_generated``), which every desktop has, so
TensorFlow's private ``flatbuffer_utils`` is not needed.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import flatbuffers

from runtime.metadata import TFLITE_FILE_IDENTIFIER


def schema() -> ModuleType:
    """The generated TFLite schema module with the object API (``ModelT``, ``BufferT``, ...)."""
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def unpack(model: bytes) -> Any:
    """The object tree (``ModelT``) of checked model bytes."""
    return schema().ModelT.InitFromPackedBuf(bytearray(model), 0)


def pack(tree: Any) -> bytes:
    """Serialize a ``ModelT`` tree into ``.tflite`` bytes with the TFLite file identifier."""
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=TFLITE_FILE_IDENTIFIER)
    return bytes(builder.Output())
