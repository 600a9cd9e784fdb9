"""Read a ``.tflite`` file and check it before any interpreter sees it.

Interpreters trust their input: LiteRT builds a model from a flatbuffer without verifying it,
so a damaged file (a flipped byte, a truncated copy) can crash the process instead of raising.
``load_model`` therefore walks every table, vector and string of the flatbuffer with bounds
checks (a flatbuffers verifier for the TFLite schema, written here because the ``flatbuffers``
Python package has none), then checks the graph's references (tensor, buffer and operator
indices, constant sizes), and reads and verifies the kit's metadata. Anything wrong raises
``ModelFormatError`` with a one-line reason.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from runtime.errors import ModelFormatError
from runtime.metadata import (
    TFLITE_FILE_IDENTIFIER,
    ModelMetadata,
    embedded_metadata,
)

OutputKind = Literal["probabilities", "logits"]
# Union fields of the TFLite schema and the enum naming each member's table class.
_UNIONS = {
    "BuiltinOptions": "BuiltinOptions",
    "BuiltinOptions2": "BuiltinOptions2",
    "Details": "QuantizationDetails",
    "ArraySegments": "SparseIndexVector",
    "ArrayIndices": "SparseIndexVector",
}
# A bound on the tables visited: a kit model has a few dozen; a damaged offset must not loop.
_MAX_TABLES = 200_000
# FlatBuffers address with 32-bit offsets: no TFLite file is larger.
MAX_MODEL_BYTES = 2**31
_ITEM_SIZES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8}  # TensorType -> bytes
# Per TFLite type (UINT8, INT8, INT16, UINT16, INT32): the zero points it can hold; an INT32
# tensor (a quantized bias) is symmetric, zero point 0, the only one the CPU delegate runs.
_ZERO_POINT_RANGES = {
    3: (0, 255),
    9: (-128, 127),
    7: (-32768, 32767),
    16: (0, 65535),
    2: (0, 0),
}
_FLOAT_TYPES = {0: np.float32, 1: np.float16, 10: np.float64}
_SOFTMAX = 25
_DEQUANTIZE = 6
_QUANTIZE = 114


class _Damaged(Exception):
    """A flatbuffer offset or length points outside the file."""


@dataclass(frozen=True)
class LoadedModel:
    """A checked model file: its bytes, the parsed flatbuffer, the kit metadata (or None) and
    whether its output holds probabilities or logits (the runtime then applies softmax)."""

    data: bytes
    source: str
    parsed: Any
    metadata: ModelMetadata | None
    output_kind: OutputKind


def load_model(
    model: bytes | bytearray | memoryview | str | os.PathLike[str],
    source: str | None = None,
    verify_metadata: bool = True,
) -> LoadedModel:
    """Read ``model`` (a path or the file's bytes), check it, read its metadata.

    Raises ``ModelFormatError`` (missing file, not TFLite, damaged, inconsistent graph, bad
    metadata) and ``MetadataMismatchError`` (weights changed after conversion).
    """
    data, source = _read_bytes(model, source)
    parsed = check_flatbuffer(data, source)
    metadata = embedded_metadata(data, verify=verify_metadata, source=source)
    kind = output_kind(parsed)
    if metadata is not None and metadata.output != kind:
        raise ModelFormatError(
            f"{source}: the metadata says the model outputs {metadata.output} but its graph "
            f"gives {kind}"
        )
    return LoadedModel(data, source, parsed, metadata, kind)


def read_metadata(
    model: bytes | bytearray | memoryview | str | os.PathLike[str], verify: bool = True
) -> ModelMetadata | None:
    """The kit metadata of ``model`` (a path or the file's bytes), None for a file without
    it; the file checked as ``load_model`` checks it (same errors)."""
    return load_model(model, verify_metadata=verify).metadata


def _read_bytes(model: Any, source: str | None) -> tuple[bytes, str]:
    if isinstance(model, bytes | bytearray | memoryview):
        return bytes(model), source or "model bytes"
    if isinstance(model, str) and not model.strip():
        raise ModelFormatError("the model path is empty")
    path = Path(model)
    name = source or str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ModelFormatError(f"model path {str(path)!r} is a directory, not a .tflite file")
        if not stat.S_ISREG(info.st_mode):
            # A device or a pipe would be read without end, or wait forever for a writer.
            raise ModelFormatError(
                f"model path {str(path)!r} is not a regular file (a device, pipe or socket)"
            )
        if info.st_size > MAX_MODEL_BYTES:
            raise ModelFormatError(
                f"model file {str(path)!r} is {info.st_size:,} bytes: a TFLite file is at most "
                f"{MAX_MODEL_BYTES:,} (2 GiB)"
            )
        return path.read_bytes(), name
    except FileNotFoundError:
        raise ModelFormatError(f"model file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ModelFormatError(
            f"cannot read model file {str(path)!r}: {exc.strerror or exc}"
        ) from exc


def check_flatbuffer(data: bytes, source: str = "model") -> Any:
    """Verify ``data`` as a TFLite flatbuffer and its graph; return the ``tflite.Model`` view."""
    import tflite

    if len(data) < 8 or data[4:8] != TFLITE_FILE_IDENTIFIER:
        # A .keras file is a zip archive: the desktop model, before conversion.
        keras_hint = (
            "; a zip archive, as a Keras model is: convert one on the desktop first, "
            "python -m convert MODEL.keras"
            if bytes(data[:4]) == b"PK\x03\x04"
            else ""
        )
        raise ModelFormatError(
            f"{source} is not a TFLite model (no 'TFL3' flatbuffer identifier; "
            f"{len(data)} bytes, starts with {bytes(data[:8])!r}){keras_hint}"
        )
    try:
        parsed = tflite.Model.GetRootAsModel(data, 0)
        _Walker(tflite, len(data)).visit(parsed)
        _check_graph(parsed, tflite, len(data))
    except (_Damaged, struct.error, TypeError, ValueError, IndexError, OverflowError,
            AttributeError, UnicodeDecodeError, RecursionError) as exc:  # fmt: skip
        # struct.error is the flatbuffer reader's way of saying an offset lies past the end.
        if isinstance(exc, struct.error):
            reason = f"it points past its own end ({len(data):,} bytes): cut short or corrupt"
        else:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFormatError(f"{source} is a damaged TFLite file: {reason}") from exc
    return parsed


class _Walker:
    """Reads every field of every table reachable from the root, with bounds checks.

    The generated ``tflite`` classes read through ``flatbuffers.table.Table``; each visited
    object gets a ``_BoundedTable`` instead, which refuses strings and vectors running past
    the end (plain Python slicing would silently truncate them).
    """

    def __init__(self, schema: Any, size: int) -> None:
        self._schema = schema
        self._size = size
        self._budget = _MAX_TABLES
        self._union_classes = {
            field: {value: name for name, value in vars(getattr(schema, enum)).items()
                    if not name.startswith("_")}
            for field, enum in _UNIONS.items() if hasattr(schema, enum)
        }  # fmt: skip

    def visit(self, obj: Any) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise _Damaged("too many tables")
        tab = obj._tab
        obj._tab = _bounded_table(tab.Bytes, tab.Pos, self._size)
        methods = type(obj).__dict__
        for name, method in methods.items():
            if not _is_field(name, method):
                continue
            if name + "Length" in methods:
                self._visit_vector(obj, name, methods)
            elif name + "Type" in methods and name in self._union_classes:
                self._visit_union(obj, name)
            elif method.__code__.co_argcount == 1:
                value = method(obj)
                if hasattr(value, "_tab"):
                    self.visit(value)

    def _visit_vector(self, obj: Any, name: str, methods: dict[str, Any]) -> None:
        if name + "AsNumpy" in methods:
            getattr(obj, name + "AsNumpy")()
            return
        length = getattr(obj, name + "Length")()
        accessor = getattr(obj, name)
        for index in range(length):
            value = accessor(index)
            if hasattr(value, "_tab"):
                self.visit(value)

    def _visit_union(self, obj: Any, name: str) -> None:
        kind = getattr(obj, name + "Type")()
        table = getattr(obj, name)()
        if table is None or kind == 0:
            return
        class_name = self._union_classes[name].get(kind)
        if class_name is None or not hasattr(self._schema, class_name):
            raise _Damaged(f"unknown {name} type {kind}")
        member = getattr(self._schema, class_name)()
        member.Init(table.Bytes, table.Pos)
        self.visit(member)


def _is_field(name: str, method: Any) -> bool:
    return (
        callable(method)
        and not name.startswith(("_", "GetRootAs", "Init"))
        and not name.endswith(("BufferHasIdentifier", "IsNone", "AsNumpy", "Length"))
    )


_BOUNDED_TABLE: type | None = None


def _bounded_table(buf: Any, pos: int, size: int) -> Any:
    global _BOUNDED_TABLE
    if _BOUNDED_TABLE is None:
        _BOUNDED_TABLE = _make_bounded_table_class()
    table = _BOUNDED_TABLE(buf, pos)
    table.check_vtable(size)
    return table


def _make_bounded_table_class() -> type:
    import flatbuffers
    from flatbuffers import number_types

    uoffset = number_types.UOffsetTFlags

    class BoundedTable(flatbuffers.table.Table):
        __slots__ = ()

        def check_vtable(self, size: int) -> None:
            if not 0 <= self.Pos <= size - 4:
                raise _Damaged("a table lies outside the file")
            vtable = self.Pos - self.Get(number_types.SOffsetTFlags, self.Pos)
            if not 0 <= vtable <= size - 4:
                raise _Damaged("a table's vtable lies outside the file")
            vtable_size = self.Get(number_types.VOffsetTFlags, vtable)
            table_size = self.Get(number_types.VOffsetTFlags, vtable + 2)
            if vtable_size < 4 or vtable + vtable_size > size or self.Pos + table_size > size:
                raise _Damaged("a table runs past the end of the file")

        def String(self, off: int) -> bytes:
            start = off + self.Get(uoffset, off)
            length = self.Get(uoffset, start)
            if start + 4 + length > len(self.Bytes):
                raise _Damaged("a string runs past the end of the file")
            text = super().String(off)
            text.decode("utf-8")  # names reach Python as str: undecodable bytes would fail later
            return text

        def VectorLen(self, off: int) -> int:
            length = super().VectorLen(off)
            if self.Vector(off) + length > len(self.Bytes):
                raise _Damaged("a vector runs past the end of the file")
            return length

    return BoundedTable


def _check_graph(parsed: Any, tflite: Any, size: int) -> None:
    """The references a loader follows: tensors, buffers, operator codes, constant sizes, and
    the operators' order: each reads only what earlier ones wrote (how interpreters run
    them), so no walk along the graph can go round in a loop."""
    buffers, opcodes = parsed.BuffersLength(), parsed.OperatorCodesLength()
    if parsed.SubgraphsLength() < 1:
        raise _Damaged("the model has no subgraph")
    for s in range(parsed.SubgraphsLength()):
        graph = parsed.Subgraphs(s)
        count = graph.TensorsLength()
        for t in range(count):
            _check_tensor(parsed, graph.Tensors(t), buffers, size)
        for role, indices in (("input", graph.InputsAsNumpy()), ("output", graph.OutputsAsNumpy())):
            if not _in_range(indices, 0, count):
                raise _Damaged(f"a subgraph {role} names a tensor that does not exist")
        written_by: dict[int, int] = {}
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            if not 0 <= op.OpcodeIndex() < opcodes:
                raise _Damaged(f"operator {o} has an unknown operator code")
            if not _in_range(op.InputsAsNumpy(), -1, count) or not _in_range(
                op.OutputsAsNumpy(), 0, count
            ):
                raise _Damaged(f"operator {o} names a tensor that does not exist")
            for tensor in _vector(op.OutputsAsNumpy()).tolist():
                if written_by.setdefault(tensor, o) != o:
                    raise _Damaged(f"operators {written_by[tensor]} and {o} write one tensor")
        for o in range(graph.OperatorsLength()):
            for tensor in _vector(graph.Operators(o).InputsAsNumpy()).tolist():
                if written_by.get(tensor, -1) >= o:
                    raise _Damaged(f"operator {o} reads a tensor that no earlier operator wrote")
    for m in range(parsed.MetadataLength()):
        if not 0 <= parsed.Metadata(m).Buffer() < buffers:
            raise _Damaged("a metadata entry names a buffer that does not exist")
    for d in range(parsed.SignatureDefsLength()):
        signature = parsed.SignatureDefs(d)
        if not 0 <= signature.SubgraphIndex() < parsed.SubgraphsLength():
            raise _Damaged("a signature names a subgraph that does not exist")


def _check_tensor(parsed: Any, tensor: Any, buffers: int, size: int) -> None:
    shape = _vector(tensor.ShapeAsNumpy())
    if shape.size > 8 or (shape < 0).any():
        raise _Damaged(f"tensor shape {shape.tolist()} is not valid")
    if not 0 <= tensor.Buffer() < buffers:
        raise _Damaged("a tensor names a buffer that does not exist")
    quantization = tensor.Quantization()
    if quantization is not None:
        scales = _vector(quantization.ScaleAsNumpy())
        zeros = _vector(quantization.ZeroPointAsNumpy())
        if zeros.size not in (0, scales.size) or (
            scales.size > 1 and not 0 <= quantization.QuantizedDimension() < shape.size
        ):
            raise _Damaged("a tensor's quantization does not match its shape")
        if not (np.isfinite(scales) & (scales >= 0)).all():
            raise _Damaged("a tensor has a negative or non-finite quantization scale")
        low, high = _ZERO_POINT_RANGES.get(tensor.Type(), (-(2**63), 2**63 - 1))
        if zeros.size and not ((zeros >= low) & (zeros <= high)).all():
            raise _Damaged("a tensor's zero point is not one its integer type can have")
    buffer = parsed.Buffers(tensor.Buffer())
    if buffer.Offset() > 1 and buffer.Offset() + buffer.Size() > size:
        raise _Damaged("a constant tensor's data lies past the end of the file")
    stored = buffer.Size() if buffer.Offset() > 1 else buffer.DataLength()
    item = _ITEM_SIZES.get(tensor.Type())
    if stored and item is not None and tensor.Sparsity() is None:
        expected = int(np.prod(shape, dtype=np.int64)) * item
        if stored != expected:
            raise _Damaged(f"a constant tensor holds {stored} bytes, its shape needs {expected}")
        float_type = _FLOAT_TYPES.get(tensor.Type())
        if float_type is not None and buffer.Offset() <= 1:
            values = buffer.DataAsNumpy().view(float_type)
            if not np.isfinite(values).all():
                raise _Damaged("a constant tensor holds NaN or infinite values")


def _in_range(indices: Any, low: int, high: int) -> bool:
    values = _vector(indices)
    return bool(((values >= low) & (values < high)).all())


def _vector(value: Any) -> np.ndarray:
    """Flatbuffers returns 0 instead of an array for an absent vector."""
    return value if isinstance(value, np.ndarray) else np.zeros(0, np.int32)


def output_kind(parsed: Any) -> OutputKind:
    """Probabilities when the graph's output comes from a SOFTMAX (possibly re-quantized or
    dequantized after it), else logits: for files without the kit's metadata."""
    graph = parsed.Subgraphs(0)
    producers = _producers(graph)
    tensor = int(_vector(graph.OutputsAsNumpy())[0]) if graph.OutputsLength() else -1
    while tensor in producers:
        op = producers[tensor]
        builtin = builtin_code(parsed, op)
        if builtin == _SOFTMAX:
            return "probabilities"
        inputs = _vector(op.InputsAsNumpy())
        if builtin not in (_DEQUANTIZE, _QUANTIZE) or inputs.size == 0:
            return "logits"
        tensor = int(inputs[0])
    return "logits"


def output_step(parsed: Any) -> float | None:
    """The quantization step of what the model outputs: the output tensor's scale, or for a
    float output computed by DEQUANTIZE, the scale of the integers it dequantizes; None for a
    float model. Two backends' outputs are compared in these steps."""
    graph = parsed.Subgraphs(0)
    tensor = int(_vector(graph.OutputsAsNumpy())[0])
    op = _producers(graph).get(tensor)
    if op is not None and builtin_code(parsed, op) == _DEQUANTIZE:
        tensor = int(_vector(op.InputsAsNumpy())[0])
    quantization = graph.Tensors(tensor).Quantization()
    scales = _vector(quantization.ScaleAsNumpy()) if quantization is not None else np.zeros(0)
    return float(scales[0]) if scales.size else None


def _producers(graph: Any) -> dict[int, Any]:
    """Each tensor of ``graph`` that an operator writes -> that operator."""
    producers = {}
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        for tensor in _vector(op.OutputsAsNumpy()).tolist():
            producers[tensor] = op
    return producers


def builtin_code(parsed: Any, op: Any) -> int:
    """The builtin operator code of ``op``: opcodes above 127 live only in ``BuiltinCode``,
    older files fill only ``DeprecatedBuiltinCode``."""
    code = parsed.OperatorCodes(op.OpcodeIndex())
    return max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
