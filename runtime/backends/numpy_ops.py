"""TFLite operators in NumPy, as the pure-NumPy backend runs them.

Each builder turns one operator of the flatbuffer into a step function ``step(values)`` that
reads its inputs from, and writes its outputs to, the list of tensor values. Builders do the
per-model work once (transposed weights, requantization multipliers, lookup tables) so the
steps stay lean. Quantized arithmetic follows TFLite's reference kernels.

Implemented because no library executes TFLite operators in NumPy: FULLY_CONNECTED (float;
int8 with per-tensor or per-channel weights; dynamic-range hybrid with int8 weights and float
activations), RESHAPE, SOFTMAX, QUANTIZE, DEQUANTIZE (int8 and float16), SHAPE,
STRIDED_SLICE, PACK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from runtime.backends.quantized_math import IntegerMatmul, QuantizedRescale
from runtime.errors import UnsupportedOpError
from runtime.quantization import quantize, round_half_away

Values = list[np.ndarray | None]
Step = Callable[[Values], None]
Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Tensor:
    """A tensor of the flatbuffer: type, shape, quantization and constant data (if any)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    scales: np.ndarray  # float64; empty when not quantized
    zero_points: np.ndarray  # int64
    axis: int  # quantized dimension of per-channel scales
    data: np.ndarray | None

    @property
    def quantized(self) -> bool:
        return self.scales.size > 0 and bool(np.any(self.scales != 0))


@dataclass
class OpContext:
    """One operator of the flatbuffer, with access to the tensors and folded constants."""

    name: str
    op: object
    tensors: list[Tensor]
    inputs: list[int]
    outputs: list[int]
    constants: Values

    def tensor(self, position: int) -> Tensor:
        return self.tensors[self.inputs[position]]

    @property
    def output(self) -> Tensor:
        return self.tensors[self.outputs[0]]

    def constant(self, position: int) -> np.ndarray | None:
        index = self.inputs[position] if position < len(self.inputs) else -1
        return None if index < 0 else self.constants[index]

    def options(self, options_class: type):
        """The operator's builtin options parsed as ``options_class``, or None if absent."""
        table = self.op.BuiltinOptions()
        if table is None:
            return None
        options = options_class()
        options.Init(table.Bytes, table.Pos)
        return options

    def unsupported(self, detail: str) -> UnsupportedOpError:
        return UnsupportedOpError(f"the NumPy backend does not implement {self.name} with {detail}")


def _dtype_range(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _clamp(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """In-place clamp (np.clip costs ~10x more per call on small arrays)."""
    np.minimum(values, high, out=values)
    return np.maximum(values, low, out=values)


def _quantize_floats(values: np.ndarray, tensor: Tensor) -> np.ndarray:
    """Affine-quantize reals into ``tensor``'s integer type, as TFLite's reference QUANTIZE."""
    return quantize(values, tensor.scales[0], int(tensor.zero_points[0]), tensor.dtype)


def _dequantize(values: np.ndarray, tensor: Tensor) -> np.ndarray:
    scales, zero_points = tensor.scales.astype(np.float32), tensor.zero_points
    if scales.size > 1:  # per-channel constants: broadcast along the quantized dimension
        shape = [1] * values.ndim
        shape[tensor.axis] = scales.size
        scales, zero_points = scales.reshape(shape), zero_points.reshape(shape)
    return ((values.astype(np.int32) - zero_points) * scales).astype(np.float32)


def _dequantize_table(tensor: Tensor) -> np.ndarray:
    """Real value of every 8-bit pattern of a per-tensor quantized int8/uint8 tensor."""
    patterns = np.arange(256, dtype=np.uint8).view(tensor.dtype).astype(np.int32)
    return ((patterns - tensor.zero_points[0]) * np.float32(tensor.scales[0])).astype(np.float32)


def build_dequantize(ctx: OpContext) -> Step:
    source, target = ctx.tensor(0), ctx.output
    src, dst = ctx.inputs[0], ctx.outputs[0]
    if target.dtype != np.float32:
        raise ctx.unsupported(f"a {target.dtype} output")
    if source.dtype == np.float16:

        def step(values: Values) -> None:
            values[dst] = values[src].astype(np.float32)

        return step
    if source.dtype not in (np.int8, np.uint8, np.int16) or not source.quantized:
        raise ctx.unsupported(f"a {source.dtype} input")
    if source.dtype.itemsize == 1 and source.scales.size == 1:
        real_values = _dequantize_table(source)

        def step(values: Values) -> None:
            values[dst] = real_values[values[src].view(np.uint8)]

        return step

    def step(values: Values) -> None:
        values[dst] = _dequantize(values[src], source)

    return step


def build_quantize(ctx: OpContext) -> Step:
    source, target = ctx.tensor(0), ctx.output
    src, dst = ctx.inputs[0], ctx.outputs[0]
    if target.dtype not in (np.int8, np.uint8) or target.scales.size != 1:
        raise ctx.unsupported(f"a {target.dtype} output quantized with {target.scales.size} scales")
    if source.dtype == np.float32:

        def step(values: Values) -> None:
            values[dst] = _quantize_floats(values[src], target)

        return step
    if source.dtype not in (np.int8, np.uint8) or source.scales.size != 1:
        raise ctx.unsupported(f"a {source.dtype} input")
    # uint8 <-> int8 requantization (TFLite's fixed-point rescale) for all 256 input patterns.
    patterns = np.arange(256, dtype=np.uint8).view(source.dtype).astype(np.int64)
    rescale = QuantizedRescale(np.array([source.scales[0] / target.scales[0]]))
    levels = rescale(patterns - int(source.zero_points[0])) + int(target.zero_points[0])
    table = _clamp(levels, *_dtype_range(target.dtype)).astype(target.dtype)

    def step(values: Values) -> None:
        values[dst] = table[values[src].view(np.uint8)]

    return step


def _softmax(logits: np.ndarray, beta: float) -> np.ndarray:
    scaled = logits.astype(np.float32)  # a copy: computed in place below
    if beta != 1.0:
        scaled *= np.float32(beta)
    scaled -= scaled.max(axis=-1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=-1, keepdims=True)
    return scaled


def build_softmax(ctx: OpContext) -> Step:
    from tflite import SoftmaxOptions

    options = ctx.options(SoftmaxOptions)
    beta = options.Beta() if options is not None else 1.0
    source, target = ctx.tensor(0), ctx.output
    src, dst = ctx.inputs[0], ctx.outputs[0]
    if source.dtype == np.float32 and target.dtype == np.float32:

        def step(values: Values) -> None:
            values[dst] = _softmax(values[src], beta)

        return step
    if source.dtype in (np.int8, np.uint8) and target.dtype == source.dtype:
        # TFLite's integer softmax approximates exp in fixed point; the float softmax of the
        # dequantized logits, requantized, lands within one output step of it.
        real_values = _dequantize_table(source)
        inverse_scale = np.float32(1 / target.scales[0])
        zero = np.float32(target.zero_points[0])
        high = _dtype_range(target.dtype)[1]

        def step(values: Values) -> None:
            levels = _softmax(real_values[values[src].view(np.uint8)], beta)
            levels *= inverse_scale
            levels += zero + np.float32(0.5)  # probabilities >= 0: round half up
            np.floor(levels, out=levels)
            # Probabilities are >= 0, so levels are >= the zero point: only the top can overflow.
            values[dst] = np.minimum(levels, high, out=levels).astype(target.dtype)

        return step
    raise ctx.unsupported(f"{source.dtype} input and {target.dtype} output")


def build_reshape(ctx: OpContext) -> Step:
    from tflite import ReshapeOptions

    src, dst = ctx.inputs[0], ctx.outputs[0]
    shape_input = ctx.inputs[1] if len(ctx.inputs) > 1 else -1
    fixed_shape = ctx.output.shape
    options = ctx.options(ReshapeOptions)
    if options is not None and options.NewShapeLength() > 0:
        fixed_shape = tuple(int(d) for d in options.NewShapeAsNumpy())

    if shape_input < 0:

        def step(values: Values) -> None:
            values[dst] = values[src].reshape(fixed_shape)

        return step
    # The shape tensor is the same cached array for every call at one input shape: convert
    # it to a tuple once (reshape with an array argument is ~10x slower).
    memo: list = [None, None]

    def step(values: Values) -> None:
        raw = values[shape_input]
        if raw is not memo[0]:
            memo[:] = [raw, tuple(int(d) for d in raw)]
        values[dst] = values[src].reshape(memo[1])

    return step


def build_shape(ctx: OpContext) -> Step:
    src, dst, dtype = ctx.inputs[0], ctx.outputs[0], ctx.output.dtype

    def step(values: Values) -> None:
        values[dst] = np.array(values[src].shape, dtype=dtype)

    return step


def build_strided_slice(ctx: OpContext) -> Step:
    from tflite import StridedSliceOptions

    options = ctx.options(StridedSliceOptions)
    begin_mask = end_mask = shrink_mask = 0
    if options is not None:
        if options.EllipsisMask() or options.NewAxisMask() or options.Offset():
            raise ctx.unsupported("ellipsis_mask, new_axis_mask or offset")
        begin_mask = options.BeginMask()
        end_mask = options.EndMask()
        shrink_mask = options.ShrinkAxisMask()
    src, begin_at, end_at, strides_at = ctx.inputs[:4]
    dst, dtype = ctx.outputs[0], ctx.output.dtype

    def step(values: Values) -> None:
        begin, end, strides = values[begin_at], values[end_at], values[strides_at]
        index: list[int | slice] = []
        for axis in range(len(begin)):
            bit = 1 << axis
            if shrink_mask & bit:
                index.append(int(begin[axis]))
                continue
            start = None if begin_mask & bit else int(begin[axis])
            stop = None if end_mask & bit else int(end[axis])
            index.append(slice(start, stop, int(strides[axis])))
        values[dst] = np.asarray(values[src][tuple(index)], dtype=dtype)

    return step


def build_pack(ctx: OpContext) -> Step:
    from tflite import PackOptions

    options = ctx.options(PackOptions)
    axis = options.Axis() if options is not None else 0
    sources, dst, dtype = list(ctx.inputs), ctx.outputs[0], ctx.output.dtype

    def step(values: Values) -> None:
        values[dst] = np.stack([values[i] for i in sources], axis=axis).astype(dtype, copy=False)

    return step


def _float_activation(ctx: OpContext, code: int) -> Transform:
    from tflite import ActivationFunctionType as Kind

    if code == Kind.NONE:
        return lambda x: x
    if code == Kind.RELU:
        return lambda x: np.maximum(x, 0, out=x)
    if code == Kind.RELU6:
        return lambda x: _clamp(x, 0, 6)
    if code == Kind.RELU_N1_TO_1:
        return lambda x: _clamp(x, -1, 1)
    if code == Kind.TANH:
        return lambda x: np.tanh(x, out=x)
    raise ctx.unsupported(f"fused activation {code}")


def _quantized_activation_range(ctx: OpContext, code: int, output: Tensor) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized: the fused activation as an integer clamp."""
    from tflite import ActivationFunctionType as Kind

    low, high = _dtype_range(output.dtype)
    scale, zero = np.float32(output.scales[0]), int(output.zero_points[0])

    def level(real: float) -> int:
        return zero + int(round_half_away(np.float32(real) / scale))

    if code == Kind.NONE:
        return low, high
    if code == Kind.RELU:
        return max(low, level(0.0)), high
    if code == Kind.RELU6:
        return max(low, level(0.0)), min(high, level(6.0))
    if code == Kind.RELU_N1_TO_1:
        return max(low, level(-1.0)), min(high, level(1.0))
    raise ctx.unsupported(f"fused activation {code} on quantized tensors")


def build_fully_connected(ctx: OpContext) -> Step:
    from tflite import FullyConnectedOptions

    options = ctx.options(FullyConnectedOptions)
    activation, keep_dims, asymmetric = 0, False, False
    if options is not None:
        if options.WeightsFormat() != 0:
            raise ctx.unsupported("shuffled weights")
        activation = options.FusedActivationFunction()
        keep_dims = bool(options.KeepNumDims())
        asymmetric = bool(options.AsymmetricQuantizeInputs())
    source, weights_tensor, output = ctx.tensor(0), ctx.tensor(1), ctx.output
    weights, bias = ctx.constant(1), ctx.constant(2)
    if weights is None or weights.ndim != 2:
        raise ctx.unsupported("non-constant or non-2-D weights")
    units, depth = weights.shape
    kinds = (source.dtype, weights.dtype, output.dtype)
    if kinds == (np.float32, np.float32, np.float32):
        kernel = _float_kernel(weights, bias, _float_activation(ctx, activation))
    elif kinds == (np.float32, np.int8, np.float32):
        kernel = _hybrid_kernel(
            weights, weights_tensor, bias, asymmetric, _float_activation(ctx, activation)
        )
    elif kinds == (np.int8, np.int8, np.int8):
        if np.any(weights_tensor.zero_points != 0):
            raise ctx.unsupported("asymmetric int8 weights")
        clamp = _quantized_activation_range(ctx, activation, output)
        kernel = _int8_kernel(weights, weights_tensor, bias, source, output, clamp)
    else:
        names = ", ".join(str(np.dtype(kind)) for kind in kinds)
        raise ctx.unsupported(f"(input, weights, output) types ({names})")
    src, dst = ctx.inputs[0], ctx.outputs[0]

    def step(values: Values) -> None:
        x = values[src]
        result = kernel(x.reshape(-1, depth))
        values[dst] = result.reshape((*x.shape[:-1], units)) if keep_dims else result

    return step


def _float_kernel(weights: np.ndarray, bias: np.ndarray | None, activation: Transform) -> Transform:
    transposed = np.ascontiguousarray(weights.T, dtype=np.float32)
    bias32 = np.zeros(len(weights), np.float32) if bias is None else bias.astype(np.float32)

    def kernel(x: np.ndarray) -> np.ndarray:
        y = x @ transposed
        y += bias32
        return activation(y)

    return kernel


def _hybrid_kernel(
    weights: np.ndarray,
    weights_tensor: Tensor,
    bias: np.ndarray | None,
    asymmetric: bool,
    activation: Transform,
) -> Transform:
    """Dynamic-range FC as TFLite's hybrid kernel: quantize each input row to int8 on the fly,
    accumulate in integers, scale by input scale x per-channel weight scale, add float bias."""
    matmul = IntegerMatmul(weights.T)
    row_sums = weights.astype(np.int64).sum(axis=1)
    channel_scales = weights_tensor.scales.astype(np.float32)
    bias32 = np.zeros(weights.shape[0], np.float32) if bias is None else bias.astype(np.float32)

    def kernel(x: np.ndarray) -> np.ndarray:
        levels, input_scales, offsets = _quantize_rows(x.astype(np.float32), asymmetric)
        accumulators = None
        if len(levels) == 1 and matmul.sparse_pays:
            accumulators = matmul.sparse_row(levels[0] - offsets[0])
        if accumulators is None:
            accumulators = matmul(levels)
            accumulators -= offsets.astype(np.int64)[:, None] * row_sums
        y = accumulators.astype(np.float32)
        y *= input_scales[:, None] * channel_scales
        y += bias32
        return activation(y)

    return kernel


def _quantize_rows(x: np.ndarray, asymmetric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row int8 quantization of float activations, as TFLite's hybrid kernels do it
    ((A)SymmetricQuantizeFloats), in float32 and rounding ties up (TFLite: away from zero), a
    difference only at exact negative ties. An all-zero row gets scale 1 and quantizes to
    zero contributions, as in TFLite.

    Returns each row's integer levels (as float32), float32 scale and zero-point offset.
    """
    low, high = x.min(axis=1), x.max(axis=1)
    if asymmetric:
        np.minimum(low, 0, out=low)
        np.maximum(high, 0, out=high)
        scales = (high - low) / np.float32(255)
        scales[scales == 0] = 1
        # TFLite picks the zero point from the min or the max, whichever rounds better; in
        # exact arithmetic both are -128 - min / scale, within [-128, 127].
        offsets = np.floor(np.float32(-127.5) - low / scales)
        levels = x / scales[:, None]
        levels += offsets[:, None] + np.float32(0.5)
        np.floor(levels, out=levels)
        return _clamp(levels, -128, 127), scales, offsets
    extent = np.maximum(np.abs(low), np.abs(high))
    extent[extent == 0] = 127
    scales = extent / np.float32(127)
    levels = x / scales[:, None]
    levels += np.float32(0.5)
    np.floor(levels, out=levels)
    return _clamp(levels, -127, 127), scales, np.zeros(len(x), np.float32)


def _int8_kernel(
    weights: np.ndarray,
    weights_tensor: Tensor,
    bias: np.ndarray | None,
    source: Tensor,
    output: Tensor,
    clamp: tuple[int, int],
) -> Transform:
    """Full-integer FC as TFLite's reference kernel (per-tensor or per-channel weight scales)."""
    matmul = IntegerMatmul(weights.T)
    input_zero = int(source.zero_points[0])
    depth = weights.shape[1]
    bias64 = np.zeros(len(weights), np.int64) if bias is None else bias.astype(np.int64)
    # Multipliers in double from the float32 scales, as TFLite's Prepare computes them.
    input_scale = np.float64(np.float32(source.scales[0]))
    output_scale = np.float64(np.float32(output.scales[0]))
    weight_scales = weights_tensor.scales.astype(np.float32).astype(np.float64)
    multipliers = input_scale * weight_scales / output_scale
    output_zero = int(output.zero_points[0])
    # One row: sum((x - zx) * w) + b over the non-zero (x - zx) only.
    sparse_rescale = QuantizedRescale(multipliers, bias64, output_zero, depth * 255 * 128)
    # Batches: x @ w - zx * sum(w) + b, folding the zero point into the bias so the dense
    # product stays int8 x int8 (exact in float32).
    folded_bias = bias64 - input_zero * weights.astype(np.int64).sum(axis=1)
    dense_rescale = QuantizedRescale(multipliers, folded_bias, output_zero, depth * 128 * 128)
    low, high = clamp

    def kernel(x: np.ndarray) -> np.ndarray:
        sparse = None
        if len(x) == 1 and matmul.sparse_pays:
            centered = x[0].astype(np.int32)
            centered -= input_zero
            sparse = matmul.sparse_row(centered)
        scaled = dense_rescale(matmul(x)) if sparse is None else sparse_rescale(sparse)
        return _clamp(scaled, low, high).astype(np.int8)

    return kernel


BUILDERS: dict[str, Callable[[OpContext], Step]] = {
    "FULLY_CONNECTED": build_fully_connected,
    "RESHAPE": build_reshape,
    "SOFTMAX": build_softmax,
    "QUANTIZE": build_quantize,
    "DEQUANTIZE": build_dequantize,
    "SHAPE": build_shape,
    "STRIDED_SLICE": build_strided_slice,
    "PACK": build_pack,
}
