"""Run a ``.tflite`` file in ai-edge-litert from raw MNIST pixels, the way a device feeds it.

Inputs are uint8 pixels (N, 28, 28), white digit on black. Each model's input tensor decides
how they are encoded (float pixel/255, or quantized integers) and its output tensor how the
scores are decoded back to float probabilities.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from runtime.errors import ModelFormatError
from runtime.metadata import load_flatbuffer

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
PIXEL_MAX = 255
RAW_PIXEL_SCALE = np.float32(1.0 / PIXEL_MAX)


@dataclass(frozen=True)
class TensorEncoding:
    """dtype and affine quantization of a model input or output (scale 0: not quantized)."""

    dtype: str
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0

    @property
    def raw_pixels(self) -> bool:
        """True when the tensor takes raw 0..255 pixels as they are (uint8, scale 1/255, zp 0)."""
        return (
            self.dtype == "uint8"
            and np.float32(self.scale) == RAW_PIXEL_SCALE
            and self.zero_point == 0
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _encoding(detail: dict) -> TensorEncoding:
    scale, zero_point = detail["quantization"]
    return TensorEncoding(np.dtype(detail["dtype"]).name, float(scale), int(zero_point))


def read_model_bytes(model: bytes | os.PathLike[str] | str, source: str | None = None) -> bytes:
    """The bytes of a TFLite model given as bytes or a path; ``ModelFormatError`` if not one."""
    if isinstance(model, bytes | bytearray | memoryview):
        data, name = bytes(model), source or "model bytes"
    else:
        path = Path(model)
        if not path.is_file():
            raise ModelFormatError(f"TFLite model {path} does not exist or is not a file")
        data, name = path.read_bytes(), source or str(path)
    load_flatbuffer(data, name)
    return data


def open_interpreter(model: bytes | os.PathLike[str] | str, num_threads: int = 1):
    """Load a TFLite model into an ai-edge-litert ``Interpreter`` (``ModelFormatError`` if not)."""
    from ai_edge_litert.interpreter import Interpreter

    data = read_model_bytes(model)
    try:
        return Interpreter(model_content=data, num_threads=num_threads)
    except (ValueError, RuntimeError) as exc:
        raise ModelFormatError(f"ai-edge-litert cannot load the model: {exc}") from exc


def pixel_encoder(encoding: TensorEncoding) -> Callable[[np.ndarray], np.ndarray]:
    """A function turning uint8 pixels into what an input tensor with ``encoding`` expects."""
    if not encoding.quantized:
        return lambda pixels: pixels.astype(np.float32) / np.float32(PIXEL_MAX)
    if encoding.raw_pixels:
        return lambda pixels: pixels
    dtype = np.dtype(encoding.dtype)
    info = np.iinfo(dtype)
    if np.float32(encoding.scale) == RAW_PIXEL_SCALE:
        if dtype == np.int8 and encoding.zero_point == -128:
            # pixel - 128 as int8 is the pixel byte with its top bit flipped: one cheap pass.
            return lambda pixels: (pixels ^ np.uint8(0x80)).view(np.int8)
        offset = encoding.zero_point
        return lambda pixels: (
            (pixels.astype(np.int16) + offset).clip(info.min, info.max).astype(dtype)
        )
    scale, zero_point = np.float32(encoding.scale), encoding.zero_point

    def quantize(pixels: np.ndarray) -> np.ndarray:
        normalized = pixels.astype(np.float32) / np.float32(PIXEL_MAX)
        return (np.rint(normalized / scale) + zero_point).clip(info.min, info.max).astype(dtype)

    return quantize


def score_decoder(encoding: TensorEncoding) -> Callable[[np.ndarray], np.ndarray]:
    """A function turning an output tensor with ``encoding`` into float32 probabilities."""
    if not encoding.quantized:
        return lambda raw: raw.astype(np.float32, copy=True)
    scale, zero_point = np.float32(encoding.scale), np.float32(encoding.zero_point)
    return lambda raw: (raw.astype(np.float32) - zero_point) * scale


class LiteRTRunner:
    """One ai-edge-litert interpreter whose batch dimension is resized once, at construction."""

    def __init__(
        self, model: bytes | os.PathLike[str] | str, batch_size: int = 1, num_threads: int = 1
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.interpreter = open_interpreter(model, num_threads=num_threads)
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFormatError(
                "expected a model with one input and one output, "
                f"got {len(inputs)} and {len(outputs)}"
            )
        in_shape, out_shape = tuple(inputs[0]["shape"][1:]), tuple(outputs[0]["shape"][1:])
        if in_shape != IMAGE_SHAPE or out_shape != (NUM_CLASSES,):
            raise ModelFormatError(
                "expected input (N, 28, 28) and output (N, 10), got input "
                f"{tuple(inputs[0]['shape'])} and output {tuple(outputs[0]['shape'])}"
            )
        self._input_index = inputs[0]["index"]
        self._output_index = outputs[0]["index"]
        try:
            if inputs[0]["shape"][0] != batch_size:
                self.interpreter.resize_tensor_input(self._input_index, [batch_size, *IMAGE_SHAPE])
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFormatError(
                f"cannot prepare the model for batch size {batch_size}: {exc}"
            ) from exc
        self.input = _encoding(self.interpreter.get_input_details()[0])
        self.output = _encoding(self.interpreter.get_output_details()[0])
        self.encode = pixel_encoder(self.input)
        self.decode = score_decoder(self.output)

    def invoke_encoded(self, batch: np.ndarray) -> np.ndarray:
        """Run one full batch that is already in the input tensor's dtype; return the raw output."""
        try:
            self.interpreter.set_tensor(self._input_index, batch)
            self.interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            raise ModelFormatError(f"ai-edge-litert failed to run the model: {exc}") from exc
        return self.interpreter.get_tensor(self._output_index)

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """Float32 probabilities (N, 10) for uint8 pixels (N, 28, 28), run in fixed-size batches."""
        count = len(pixels)
        scores = np.empty((count, NUM_CLASSES), dtype=np.float32)
        for start in range(0, count, self.batch_size):
            chunk = pixels[start : start + self.batch_size]
            filled = len(chunk)
            if filled < self.batch_size:
                # The batch size is fixed, so the last batch is padded with blank images.
                padding = np.zeros((self.batch_size - filled, *IMAGE_SHAPE), chunk.dtype)
                chunk = np.concatenate([chunk, padding])
            raw = self.invoke_encoded(self.encode(chunk))
            scores[start : start + filled] = self.decode(raw[:filled])
        return scores


def mean_latency_ms(
    model: bytes | os.PathLike[str] | str, pixels: np.ndarray, warmup: int = 20
) -> float:
    """Mean milliseconds per image at batch 1 on one thread, uint8 pixels to probabilities."""
    runner = LiteRTRunner(model, batch_size=1, num_threads=1)
    for image in pixels[:warmup]:
        runner.predict(image[None])
    start = time.perf_counter()
    for image in pixels:
        runner.predict(image[None])
    return (time.perf_counter() - start) * 1000.0 / max(len(pixels), 1)
