"""The kit's model metadata: what a device needs to use a ``.tflite`` file with no other knowledge.

``convert`` embeds it in the model's own flatbuffer ``metadata`` list under the name
``METADATA_NAME`` (see ``convert.metadata``); this module reads it back with the ``tflite``
schema package, so no TensorFlow is needed. ``weights_sha256`` binds the metadata to the
weights: a file whose tensors were changed after conversion no longer matches it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from runtime.errors import MetadataMismatchError, ModelFormatError

METADATA_NAME = "digit_kit"
SCHEMA = "digit-kit/1"
TFLITE_FILE_IDENTIFIER = b"TFL3"
DEFAULT_LABELS: tuple[str, ...] = tuple("0123456789")


@dataclass(frozen=True)
class ModelMetadata:
    """Self-description of an exported model (stored as JSON inside the ``.tflite`` file)."""

    format: str  # float32 | float16 | dynamic | int8
    source_model_sha256: str
    weights_sha256: str
    labels: tuple[str, ...] = DEFAULT_LABELS
    input_shape: tuple[int, int] = (28, 28)
    input_layout: str = "NHW"
    # Float inputs take pixel/255 in [0, 1]; a uint8 input takes raw 0..255 pixels
    # (its quantization scale 1/255, zero point 0 does the same mapping).
    input_normalization: str = "pixel/255"
    polarity: str = "white_on_black"
    parity: dict[str, Any] = field(default_factory=dict)
    schema: str = SCHEMA

    def to_json(self) -> str:
        """Serialize to a compact JSON string."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        """Parse JSON written by :meth:`to_json`; raise ``ModelFormatError`` on anything else."""
        try:
            raw = json.loads(text)
            if raw.get("schema") != SCHEMA:
                raise ModelFormatError(
                    f"unknown metadata schema {raw.get('schema')!r}, expected {SCHEMA!r}"
                )
            raw["labels"] = tuple(raw["labels"])
            raw["input_shape"] = tuple(raw["input_shape"])
            return cls(**raw)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelFormatError(
                f"the model's {METADATA_NAME!r} metadata is not valid: {exc}"
            ) from exc


def load_flatbuffer(model: bytes, source: str = "model"):
    """Return the ``tflite.Model`` view of ``model`` bytes, or raise ``ModelFormatError``."""
    import tflite

    if len(model) < 8 or model[4:8] != TFLITE_FILE_IDENTIFIER:
        raise ModelFormatError(
            f"{source} is not a TFLite model (no 'TFL3' flatbuffer identifier; "
            f"{len(model)} bytes, starts with {bytes(model[:8])!r})"
        )
    try:
        parsed = tflite.Model.GetRootAsModel(model, 0)
        parsed.SubgraphsLength()
        return parsed
    except Exception as exc:  # the flatbuffer reader raises bare struct/index errors
        raise ModelFormatError(f"{source} is a damaged TFLite flatbuffer: {exc}") from exc


def buffer_bytes(parsed, model: bytes, index: int) -> bytes:
    """The bytes of buffer ``index`` of a parsed model (inline data or an offset into the file)."""
    buffer = parsed.Buffers(index)
    offset = buffer.Offset() if hasattr(buffer, "Offset") else 0
    if offset > 1:  # large models keep data outside the flatbuffer, addressed from the file start
        return bytes(model[offset : offset + buffer.Size()])
    data = buffer.DataAsNumpy()
    return b"" if isinstance(data, int) else data.tobytes()


def _tensor_signature(tensor) -> bytes:
    """Type, shape and quantization of a tensor: changing any of them changes what it computes."""
    parts = [tensor.Type().to_bytes(2, "little"), tensor.ShapeAsNumpy().astype("<i8").tobytes()]
    quantization = tensor.Quantization()
    if quantization is not None:
        for field_values in (quantization.ScaleAsNumpy(), quantization.ZeroPointAsNumpy()):
            if not isinstance(field_values, int):  # the reader returns 0 for an absent vector
                parts.append(field_values.astype("<f8").tobytes())
        parts.append(quantization.QuantizedDimension().to_bytes(4, "little", signed=True))
    return b"|".join(parts)


def weights_digest(model: bytes) -> str:
    """SHA-256 over every tensor's constant data, type, shape and quantization, in tensor order.

    Metadata buffers are excluded, so embedding the metadata does not change the digest.
    """
    try:
        parsed = load_flatbuffer(model)
        digest = hashlib.sha256()
        for s in range(parsed.SubgraphsLength()):
            subgraph = parsed.Subgraphs(s)
            for t in range(subgraph.TensorsLength()):
                tensor = subgraph.Tensors(t)
                data = buffer_bytes(parsed, model, tensor.Buffer())
                signature = _tensor_signature(tensor)
                for part in (signature, data):
                    digest.update(len(part).to_bytes(8, "little"))
                    digest.update(part)
        return digest.hexdigest()
    except ModelFormatError:
        raise
    except Exception as exc:
        raise ModelFormatError(f"cannot read the model's tensors: {exc}") from exc


def read_metadata(model: bytes, verify: bool = True) -> ModelMetadata | None:
    """Return the kit metadata embedded in ``model`` bytes, or ``None`` if it has none.

    With ``verify`` a metadata whose ``weights_sha256`` does not match the file's tensors
    raises ``MetadataMismatchError``.
    """
    parsed = load_flatbuffer(model)
    for i in range(parsed.MetadataLength()):
        entry = parsed.Metadata(i)
        name = entry.Name()
        if name is None or name.decode("utf-8", "replace") != METADATA_NAME:
            continue
        meta = ModelMetadata.from_json(buffer_bytes(parsed, model, entry.Buffer()))
        if verify:
            actual = weights_digest(model)
            if actual != meta.weights_sha256:
                raise MetadataMismatchError(
                    "the model's weights do not match its metadata "
                    f"(metadata says weights_sha256={meta.weights_sha256[:12]}…, file has {actual[:12]}…): "
                    "the file was modified after conversion or the metadata belongs to another model"
                )
        return meta
    return None
