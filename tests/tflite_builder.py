"""Build small TFLite flatbuffers in tests, without TensorFlow, with the kit's one model writer
(``convert.flatbuffer_io``) and its metadata embedding (``convert.metadata``).

The runtime's fast tests need models with known structure (float, float16 weights,
dynamic-range, full int8 with every I/O type, wrong signatures, unsupported operators)
in milliseconds; the slow tests use real converter output. ``mlp`` builds the kit's graph
shape (RESHAPE -> FULLY_CONNECTED x2 -> SOFTMAX) with small random weights; int8 scales are
calibrated on random images the way the converter would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convert import flatbuffer_io
from convert.metadata import build_metadata, embed_metadata

schema = flatbuffer_io.schema()

_TYPES = {
    np.dtype(np.float32): schema.TensorType.FLOAT32,
    np.dtype(np.float16): schema.TensorType.FLOAT16,
    np.dtype(np.int32): schema.TensorType.INT32,
    np.dtype(np.uint8): schema.TensorType.UINT8,
    np.dtype(np.int8): schema.TensorType.INT8,
}
_OPTIONS = {
    "FULLY_CONNECTED": (schema.BuiltinOptions.FullyConnectedOptions, schema.FullyConnectedOptionsT),
    "SOFTMAX": (schema.BuiltinOptions.SoftmaxOptions, schema.SoftmaxOptionsT),
    "RESHAPE": (schema.BuiltinOptions.ReshapeOptions, schema.ReshapeOptionsT),
}


@dataclass
class GraphBuilder:
    """Accumulates tensors and operators of one subgraph; ``build`` packs a ``.tflite``."""

    tensors: list = field(default_factory=list)
    buffers: list = field(default_factory=lambda: [schema.BufferT()])
    operators: list = field(default_factory=list)
    opcodes: dict[int, int] = field(default_factory=dict)

    def tensor(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype,
        data: np.ndarray | None = None,
        scale=None,
        zero_point=None,
        axis: int = 0,
        dynamic_batch: bool = False,
    ) -> int:
        """Add a tensor (a constant when ``data`` is given); return its index."""
        tensor = schema.TensorT()
        tensor.name = name
        tensor.shape = np.array(shape, dtype=np.int32)
        if dynamic_batch:
            tensor.shapeSignature = np.array((-1, *shape[1:]), dtype=np.int32)
        tensor.type = _TYPES[np.dtype(dtype)]
        if data is not None:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), np.uint8)
            self.buffers.append(buffer)
            tensor.buffer = len(self.buffers) - 1
        if scale is not None:
            quantization = schema.QuantizationParametersT()
            quantization.scale = [float(s) for s in np.atleast_1d(scale)]
            zeros = np.zeros(len(quantization.scale)) if zero_point is None else zero_point
            quantization.zeroPoint = [int(z) for z in np.atleast_1d(zeros)]
            quantization.quantizedDimension = axis
            tensor.quantization = quantization
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], **options) -> None:
        """Add builtin operator ``name``; ``options`` set fields of its options table."""
        code = getattr(schema.BuiltinOperator, name)
        index = self.opcodes.setdefault(code, len(self.opcodes))
        operator = schema.OperatorT()
        operator.opcodeIndex = index
        operator.inputs = inputs
        operator.outputs = outputs
        if name in _OPTIONS:
            options_type, options_class = _OPTIONS[name]
            table = options_class()
            for key, value in options.items():
                setattr(table, key, value)
            operator.builtinOptionsType = options_type
            operator.builtinOptions = table
        self.operators.append(operator)

    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        """The finished flatbuffer bytes."""
        graph = schema.SubGraphT()
        graph.tensors, graph.operators = self.tensors, self.operators
        graph.inputs, graph.outputs = inputs, outputs
        graph.name = "main"
        model = schema.ModelT()
        model.version = 3
        model.subgraphs = [graph]
        model.buffers = self.buffers
        model.operatorCodes = []
        for code in sorted(self.opcodes, key=self.opcodes.get):
            opcode = schema.OperatorCodeT()
            opcode.builtinCode = code
            opcode.deprecatedBuiltinCode = min(code, 127)
            model.operatorCodes.append(opcode)
        return flatbuffer_io.pack(model)


@dataclass(frozen=True)
class FloatMlp:
    """Weights of a 784 -> hidden (ReLU) -> classes (softmax) network."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    @classmethod
    def random(
        cls, seed: int = 0, hidden: int = 16, classes: int = 10, pixels: int = 784
    ) -> FloatMlp:
        rng = np.random.default_rng(seed)
        return cls(
            w1=rng.normal(0, 0.08, (hidden, pixels)).astype(np.float32),
            b1=rng.normal(0, 0.1, hidden).astype(np.float32),
            w2=rng.normal(0, 0.5, (classes, hidden)).astype(np.float32),
            b2=rng.normal(0, 0.1, classes).astype(np.float32),
        )

    def hidden(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x.reshape(len(x), -1) @ self.w1.T + self.b1, 0)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.hidden(x) @ self.w2.T + self.b2


def random_images(count: int, seed: int = 1) -> np.ndarray:
    """uint8 (count, 28, 28) images: sparse bright strokes on black, like MNIST."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 28, 28)).astype(np.uint8)
    images[rng.random((count, 28, 28)) < 0.7] = 0
    return images


def _flatten(graph: GraphBuilder, source: int, pixels: int, dtype, **quantization) -> int:
    shape = graph.tensor("shape", (2,), np.int32, data=np.array([-1, pixels], np.int32))
    flat = graph.tensor("flat", (1, pixels), dtype, dynamic_batch=True, **quantization)
    graph.op("RESHAPE", [source, shape], [flat])
    return flat


def float_mlp(
    weights: FloatMlp,
    input_shape: tuple[int, ...] = (1, 28, 28),
    weight_type: str = "float32",
    extra_op: str | None = None,
    softmax: bool = True,
) -> bytes:
    """A float model; ``weight_type`` "float16" (DEQUANTIZE'd constants) or "dynamic" (int8
    weights per channel, hybrid FULLY_CONNECTED with asymmetric input quantization).
    ``extra_op`` appends a unary operator (e.g. "TANH") before the softmax; without
    ``softmax`` the model outputs logits, as the kit's converter writes it."""
    graph = GraphBuilder()
    image = graph.tensor("image", input_shape, np.float32, dynamic_batch=True)
    source = (
        _flatten(graph, image, weights.w1.shape[1], np.float32) if len(input_shape) == 3 else image
    )
    layers = [(weights.w1, weights.b1, 1), (weights.w2, weights.b2, 0)]
    for index, (w, b, relu) in enumerate(layers):
        kernel = _weights_tensor(graph, f"w{index}", w, weight_type)
        bias = graph.tensor(f"b{index}", b.shape, np.float32, data=b)
        out = graph.tensor(f"fc{index}", (1, len(w)), np.float32, dynamic_batch=True)
        graph.op(
            "FULLY_CONNECTED",
            [source, kernel, bias],
            [out],
            fusedActivationFunction=relu,
            asymmetricQuantizeInputs=weight_type == "dynamic",
        )
        source = out
    if extra_op:
        out = graph.tensor("extra", (1, len(weights.w2)), np.float32, dynamic_batch=True)
        graph.op(extra_op, [source], [out])
        source = out
    if not softmax:
        return graph.build([image], [source])
    probabilities = graph.tensor(
        "probabilities", (1, len(weights.w2)), np.float32, dynamic_batch=True
    )
    graph.op("SOFTMAX", [source], [probabilities], beta=1.0)
    return graph.build([image], [probabilities])


def _weights_tensor(graph: GraphBuilder, name: str, w: np.ndarray, weight_type: str) -> int:
    if weight_type == "float32":
        return graph.tensor(name, w.shape, np.float32, data=w)
    if weight_type == "float16":
        half = graph.tensor(name + "_f16", w.shape, np.float16, data=w.astype(np.float16))
        full = graph.tensor(name, w.shape, np.float32)
        graph.op("DEQUANTIZE", [half], [full])
        return full
    if weight_type == "dynamic":
        scales = np.abs(w).max(axis=1) / 127
        quantized = np.round(w / scales[:, None]).astype(np.int8)
        return graph.tensor(
            name, w.shape, np.int8, data=quantized, scale=scales, zero_point=np.zeros(len(w))
        )
    raise ValueError(weight_type)


def int8_mlp(
    weights: FloatMlp,
    input_type: str = "uint8",
    output_type: str = "float32",
    per_channel: bool = True,
    softmax: bool = True,
) -> bytes:
    """A full-integer model as the converter writes it: int8 activations and weights, int32
    biases, int8 softmax (scale 1/256), QUANTIZE/DEQUANTIZE at the edges for other I/O types.
    Without ``softmax`` the output is the int8 logits (dequantized for a float32 output), as
    the kit's converter writes its models."""
    calibration = random_images(256).astype(np.float32) / 255
    graph = GraphBuilder()
    pixel_scale = 1 / 255
    if input_type == "int8":
        image = graph.tensor(
            "image", (1, 28, 28), np.int8, scale=pixel_scale, zero_point=-128, dynamic_batch=True
        )
        source = image
    else:
        image_quant = {"scale": pixel_scale, "zero_point": 0} if input_type == "uint8" else {}
        image = graph.tensor(
            "image", (1, 28, 28), np.dtype(input_type), dynamic_batch=True, **image_quant
        )
        source = graph.tensor(
            "quantized",
            (1, 28, 28),
            np.int8,
            scale=pixel_scale,
            zero_point=-128,
            dynamic_batch=True,
        )
        graph.op("QUANTIZE", [image], [source])
    source = _flatten(graph, source, 784, np.int8, scale=pixel_scale, zero_point=-128)
    in_scale = pixel_scale
    hidden = weights.hidden(calibration)
    logits = weights.logits(calibration)
    layers = [
        (weights.w1, weights.b1, 1, hidden.max() / 255, -128, per_channel),
        (weights.w2, weights.b2, 0, *_range_quantization(logits), False),
    ]
    for index, (w, b, relu, out_scale, out_zero, channelwise) in enumerate(layers):
        scales = np.abs(w).max(axis=1) / 127 if channelwise else np.full(1, np.abs(w).max() / 127)
        quantized = np.round(w / (scales[:, None] if channelwise else scales)).astype(np.int8)
        bias_scales = (in_scale * scales).astype(np.float32)
        kernel = graph.tensor(
            f"w{index}",
            w.shape,
            np.int8,
            data=quantized,
            scale=scales,
            zero_point=np.zeros(len(scales)),
        )
        bias = graph.tensor(
            f"b{index}",
            b.shape,
            np.int32,
            data=np.round(b / bias_scales).astype(np.int32),
            scale=bias_scales,
            zero_point=np.zeros(len(bias_scales)),
        )
        out = graph.tensor(
            f"fc{index}",
            (1, len(w)),
            np.int8,
            scale=out_scale,
            zero_point=out_zero,
            dynamic_batch=True,
        )
        graph.op("FULLY_CONNECTED", [source, kernel, bias], [out], fusedActivationFunction=relu)
        source, in_scale = out, out_scale
    classes = len(weights.w2)
    if softmax:
        probabilities = graph.tensor(
            "softmax", (1, classes), np.int8, scale=1 / 256, zero_point=-128, dynamic_batch=True
        )
        graph.op("SOFTMAX", [source], [probabilities], beta=1.0)
    else:
        probabilities = source
    logit_scale, logit_zero = layers[-1][3], layers[-1][4]
    scale, zero = (1 / 256, 0) if softmax else (logit_scale, logit_zero + 128)
    if output_type == "float32":
        output = graph.tensor("probabilities", (1, classes), np.float32, dynamic_batch=True)
        graph.op("DEQUANTIZE", [probabilities], [output])
    elif output_type == "uint8":
        output = graph.tensor(
            "probabilities",
            (1, classes),
            np.uint8,
            scale=scale,
            zero_point=zero,
            dynamic_batch=True,
        )
        graph.op("QUANTIZE", [probabilities], [output])
    else:
        output = probabilities
    return graph.build([image], [output])


def _range_quantization(values: np.ndarray) -> tuple[float, int]:
    low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    scale = (high - low) / 255
    return scale, int(np.clip(round(-128 - low / scale), -128, 127))


def with_metadata(model: bytes, **fields) -> bytes:
    """``model`` with the kit's metadata embedded by ``convert``, bound to its weights;
    ``fields`` override metadata fields (format, labels, polarity, threshold, ...)."""
    import dataclasses

    metadata = build_metadata(model, fields.pop("format", "float32"), "0" * 64, {})
    return embed_metadata(model, dataclasses.replace(metadata, **fields))


def tamper_weights(model: bytes) -> bytes:
    """``model`` with the first byte of its largest constant buffer flipped, in place."""
    import tflite

    parsed = tflite.Model.GetRootAsModel(model, 0)
    largest = max(range(parsed.BuffersLength()), key=lambda i: parsed.Buffers(i).DataLength())
    data = parsed.Buffers(largest).DataAsNumpy().tobytes()
    start = model.find(data)
    tampered = bytearray(model)
    tampered[start] ^= 0x01
    return bytes(tampered)
