"""The kit's model metadata: what a device needs to use a ``.tflite`` file with no other knowledge.

``convert`` embeds it in the model's own flatbuffer ``metadata`` list under the name
``METADATA_NAME`` (see ``convert.metadata``); this module reads it back with the ``tflite``
schema package, so no TensorFlow is needed. ``weights_sha256`` binds the metadata to the
model: a file whose tensors or operators were changed after conversion no longer matches it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from runtime.errors import MetadataMismatchError, ModelFormatError

METADATA_NAME = "digit_kit"
SCHEMA = "digit-kit/2"
TFLITE_FILE_IDENTIFIER = b"TFL3"
DEFAULT_LABELS: tuple[str, ...] = tuple("0123456789")
OUTPUT_KINDS = ("probabilities", "logits")


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
    # "logits": the runtime applies a float softmax (full resolution near 1 even for int8).
    output: str = "probabilities"
    # The confidence from which a prediction is accepted as a digit, chosen by training on
    # held-out digits and non-digits; None: the runtime's default.
    threshold: float | None = None
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
                    f"metadata schema {raw.get('schema')!r} is not {SCHEMA!r}: the file was "
                    "made by another digit-kit version; convert the .keras model again"
                )
            raw["labels"] = tuple(raw["labels"])
            raw["input_shape"] = tuple(raw["input_shape"])
            metadata = cls(**raw)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelFormatError(
                f"the model's {METADATA_NAME!r} metadata is not valid: {exc}"
            ) from exc
        if metadata.output not in OUTPUT_KINDS:
            raise ModelFormatError(
                f"the model's metadata names an unknown output {metadata.output!r}"
            )
        threshold = metadata.threshold
        if threshold is not None and not (
            isinstance(threshold, float | int) and 0 <= threshold <= 1
        ):
            raise ModelFormatError(f"the model's metadata threshold {threshold!r} is not in 0..1")
        return metadata


def parse(model: bytes):
    """The ``tflite.Model`` view of bytes already checked by ``runtime.model_file``."""
    import tflite

    return tflite.Model.GetRootAsModel(model, 0)


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


def _operator_signature(parsed, operator) -> bytes:
    """Operator code, tensor wiring and every option value of an operator."""
    code = parsed.OperatorCodes(operator.OpcodeIndex())
    parts = [
        repr((code.BuiltinCode(), code.DeprecatedBuiltinCode(), code.CustomCode())).encode(),
        _int_vector(operator.InputsAsNumpy()),
        _int_vector(operator.OutputsAsNumpy()),
        repr((operator.BuiltinOptionsType(), _options_values(operator))).encode(),
    ]
    return b"|".join(parts)


def _options_values(operator) -> list[tuple[str, Any]]:
    """The scalar fields of an operator's builtin options table, by name."""
    import tflite

    table = operator.BuiltinOptions()
    kind = operator.BuiltinOptionsType()
    if table is None or kind == 0:
        return []
    names = {value: name for name, value in vars(tflite.BuiltinOptions).items()}
    options_class = getattr(tflite, names.get(kind, ""), None)
    if options_class is None:
        return [("unknown", kind)]
    options = options_class()
    options.Init(table.Bytes, table.Pos)
    values = []
    for name, method in sorted(vars(options_class).items()):
        if (
            callable(method)
            and not name.startswith(("_", "Init", "GetRootAs"))
            and (method.__code__.co_argcount == 1 and not name.endswith(("IsNone", "Length")))
        ):
            value = method(options)
            values.append((name, value.tolist() if hasattr(value, "tolist") else value))
    return values


def _int_vector(values) -> bytes:
    return b"" if isinstance(values, int) else values.astype("<i8").tobytes()


def weights_digest(model: bytes) -> str:
    """SHA-256 over every tensor's constant data, type, shape and quantization and every
    operator's code, wiring and options, in graph order.

    Metadata buffers are excluded, so embedding the metadata does not change the digest.
    ``model`` must have passed ``runtime.model_file.check_flatbuffer``.
    """
    parsed = parse(model)
    digest = hashlib.sha256()

    def add(part: bytes) -> None:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)

    for s in range(parsed.SubgraphsLength()):
        subgraph = parsed.Subgraphs(s)
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            add(_tensor_signature(tensor))
            add(buffer_bytes(parsed, model, tensor.Buffer()))
        for o in range(subgraph.OperatorsLength()):
            add(_operator_signature(parsed, subgraph.Operators(o)))
        add(_int_vector(subgraph.InputsAsNumpy()) + b"|" + _int_vector(subgraph.OutputsAsNumpy()))
    return digest.hexdigest()


def embedded_metadata(
    model: bytes, verify: bool = True, source: str = "model"
) -> ModelMetadata | None:
    """Return the kit metadata embedded in ``model`` bytes, or ``None`` if it has none.

    ``model`` must have passed ``runtime.model_file.check_flatbuffer`` (``runtime.read_metadata``
    takes any file or bytes and checks them first). With ``verify`` a
    metadata whose ``weights_sha256`` does not match the file raises ``MetadataMismatchError``.
    """
    parsed = parse(model)
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
                    f"{source}: the model's weights do not match its metadata "
                    f"(metadata says weights_sha256={meta.weights_sha256[:12]}…, file has {actual[:12]}…): "
                    "the file was modified after conversion or the metadata belongs to another model"
                )
        return meta
    return None
