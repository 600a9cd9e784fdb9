"""Pure-NumPy backend: executes the kit's own ``.tflite`` files with no interpreter library.

For devices where no LiteRT wheel exists. The flatbuffer is read with the ``tflite`` schema
package; the operators themselves are in ``runtime.backends.numpy_ops``. An operator that is
not implemented raises ``UnsupportedOpError`` naming it, at load time.

Execution plan, built once at load:
- operators whose inputs are all constants (float16 weight DEQUANTIZE) run at load;
- operators that only compute shapes (Keras' Flatten emits SHAPE -> STRIDED_SLICE -> PACK
  for RESHAPE) run once per distinct input shape, which determines every shape in the graph;
- the rest run on every call.
``num_threads`` is not applied: NumPy's BLAS threading follows its own environment variables
(``OPENBLAS_NUM_THREADS``...).
"""

from __future__ import annotations

import numpy as np

from runtime.backends import TensorSpec
from runtime.backends.numpy_ops import BUILDERS, OpContext, Step, Tensor, Values
from runtime.errors import ModelFormatError, UnsupportedOpError
from runtime.metadata import buffer_bytes, parse
from runtime.model_file import builtin_code

REQUIRED_MODULE = "tflite"


def install_hint() -> str:
    """How to get this backend's library."""
    return "pip install tflite flatbuffers"


# Rows per internal pass of run_batch: bounds the activations held for a huge batch.
BATCH_CHUNK = 4096
_SHAPE_CACHE_LIMIT = 64


def create(model: bytes, num_threads: int = 1, source: str = "model") -> NumpyBackend:
    """Build the NumPy executor for ``model`` bytes."""
    return NumpyBackend(model, source)


class NumpyBackend:
    """Executes a TFLite model's main subgraph operator by operator in NumPy."""

    name = "numpy"

    def __init__(self, model: bytes, source: str = "model") -> None:
        import tflite

        self._source = source
        parsed = parse(model)  # checked by runtime.model_file before any backend sees it
        try:
            graph = parsed.Subgraphs(0)
            tensors = [
                _read_tensor(parsed, model, graph.Tensors(i)) for i in range(graph.TensorsLength())
            ]
            inputs = [int(i) for i in _vector(graph.InputsAsNumpy())]
            outputs = [int(i) for i in _vector(graph.OutputsAsNumpy())]
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ModelFormatError(f"{source}: cannot read the model's tensors: {exc}") from exc
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFormatError(
                f"{source}: expected a model with one input and one output, "
                f"got {len(inputs)} inputs and {len(outputs)} outputs"
            )
        self._input, self._output = inputs[0], outputs[0]
        self.input_spec = _tensor_spec(tensors[self._input], "input", source)
        self.output_spec = _tensor_spec(tensors[self._output], "output", source)
        self._template: Values = [t.data for t in tensors]
        self._all_steps: list[tuple[str, Step]] = []
        self._value_steps: list[tuple[str, Step]] = []
        self._shape_outputs: list[int] = []
        self._shape_cache: dict[tuple[int, ...], list[np.ndarray | None]] = {}
        shape_derived: set[int] = set()
        for index in range(graph.OperatorsLength()):
            op = graph.Operators(index)
            name = _op_name(parsed, op, tflite)
            builder = BUILDERS.get(name)
            if builder is None:
                raise UnsupportedOpError(
                    f"{source}: the NumPy backend does not implement the {name} operator "
                    f"(operator #{index}); use backend='litert'"
                )
            op_inputs = [int(i) for i in _vector(op.InputsAsNumpy())]
            op_outputs = [int(i) for i in _vector(op.OutputsAsNumpy())]
            try:
                step = builder(OpContext(name, op, tensors, op_inputs, op_outputs, self._template))
            except (IndexError, ValueError, TypeError, KeyError) as exc:
                raise ModelFormatError(
                    f"{source}: operator #{index} ({name}) is malformed: {exc}"
                ) from exc
            used = [i for i in op_inputs if i >= 0]
            if used and all(self._template[i] is not None for i in used):
                self._run([(name, step)], self._template)  # constant folding
                continue
            self._all_steps.append((name, step))
            if name == "SHAPE" or all(
                i in shape_derived or self._template[i] is not None for i in used
            ):
                shape_derived.update(op_outputs)
                self._shape_outputs.extend(op_outputs)
            else:
                self._value_steps.append((name, step))

    def run_one(self, sample: np.ndarray) -> np.ndarray:
        """Run one sample shaped like ``input_spec.shape``; return the raw ``(1, classes)`` output."""
        return self._execute(sample)

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """Run ``(N, ...)`` samples; return the raw ``(N, classes)`` outputs."""
        if len(batch) <= BATCH_CHUNK:
            return self._execute(batch)
        return np.concatenate(
            [self._execute(batch[i : i + BATCH_CHUNK]) for i in range(0, len(batch), BATCH_CHUNK)]
        )

    def _execute(self, batch: np.ndarray) -> np.ndarray:
        values = list(self._template)
        values[self._input] = batch
        cached = self._shape_cache.get(batch.shape)
        if cached is None:
            self._run(self._all_steps, values)
            if len(self._shape_cache) >= _SHAPE_CACHE_LIMIT:
                self._shape_cache.clear()
            self._shape_cache[batch.shape] = [values[i] for i in self._shape_outputs]
        else:
            for index, value in zip(self._shape_outputs, cached, strict=True):
                values[index] = value
            self._run(self._value_steps, values)
        return values[self._output]

    def _run(self, steps: list[tuple[str, Step]], values: Values) -> None:
        for name, step in steps:
            try:
                step(values)
            except (ValueError, TypeError, IndexError) as exc:
                raise ModelFormatError(
                    f"{self._source}: the {name} operator failed: {exc}"
                ) from exc


def _vector(value: object) -> np.ndarray:
    """Flatbuffers returns 0 instead of an empty array for an absent vector."""
    return value if isinstance(value, np.ndarray) else np.zeros(0, dtype=np.int32)


def _numpy_dtype(tensor_type: int) -> np.dtype:
    from tflite import TensorType

    types = {
        TensorType.FLOAT32: np.float32,
        TensorType.FLOAT16: np.float16,
        TensorType.INT32: np.int32,
        TensorType.INT64: np.int64,
        TensorType.INT16: np.int16,
        TensorType.UINT8: np.uint8,
        TensorType.INT8: np.int8,
        TensorType.BOOL: np.bool_,
    }
    if tensor_type not in types:
        raise UnsupportedOpError(f"the NumPy backend does not support tensor type {tensor_type}")
    return np.dtype(types[tensor_type])


def _read_tensor(parsed, model: bytes, tensor) -> Tensor:
    name = (tensor.Name() or b"").decode("utf-8", "replace")
    if tensor.Sparsity() is not None:
        raise UnsupportedOpError(
            f"tensor {name!r} is sparse; the NumPy backend needs dense tensors"
        )
    dtype = _numpy_dtype(tensor.Type())
    shape = tuple(int(d) for d in _vector(tensor.ShapeAsNumpy()))
    scales = np.zeros(0)
    zero_points = np.zeros(0, dtype=np.int64)
    axis = 0
    quantization = tensor.Quantization()
    if quantization is not None:
        scales = _vector(quantization.ScaleAsNumpy()).astype(np.float64)
        zero_points = _vector(quantization.ZeroPointAsNumpy()).astype(np.int64)
        axis = quantization.QuantizedDimension()
        if zero_points.size == 0:
            zero_points = np.zeros(scales.size, dtype=np.int64)
    raw = buffer_bytes(parsed, model, tensor.Buffer())
    data = None
    if raw:
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(raw) != expected:
            raise ModelFormatError(
                f"tensor {name!r} has {len(raw)} bytes of data, its shape {shape} needs {expected}"
            )
        data = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return Tensor(name, dtype, shape, scales, zero_points, axis, data)


def _tensor_spec(tensor: Tensor, role: str, source: str) -> TensorSpec:
    if tensor.scales.size > 1:
        raise ModelFormatError(
            f"{source}: the model {role} is quantized per channel; the kit needs one scale"
        )
    quantized = tensor.quantized
    return TensorSpec(
        name=tensor.name,
        shape=tensor.shape,
        dtype=tensor.dtype,
        scale=float(tensor.scales[0]) if quantized else 0.0,
        zero_point=int(tensor.zero_points[0]) if quantized else 0,
    )


def _op_name(parsed, op, tflite) -> str:
    builtin = builtin_code(parsed, op)
    if builtin == tflite.BuiltinOperator.CUSTOM:
        code = parsed.OperatorCodes(op.OpcodeIndex())
        custom = (code.CustomCode() or b"").decode("utf-8", "replace")
        return f"CUSTOM({custom})"
    try:
        return tflite.opcode2name(builtin)
    except ValueError:
        return f"opcode {builtin}"
