"""Keras model -> TFLite flatbuffer bytes, in the four formats the kit ships."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from convert.representative import calibration_batches
from runtime.errors import DigitKitError

FORMATS: tuple[str, ...] = ("float32", "float16", "dynamic", "int8")
INT8_INPUT_TYPES: tuple[str, ...] = ("uint8", "int8", "float32")
INT8_OUTPUT_TYPES: tuple[str, ...] = ("float32", "uint8", "int8")
# Chosen by benchmarks/bench_convert_int8_io.py (batch 1 and 256, invoke + NumPy conversion):
# a uint8 input lets devices feed raw pixels; float32 output hands back probabilities directly.
DEFAULT_INT8_INPUT = "uint8"
DEFAULT_INT8_OUTPUT = "float32"


class ConversionError(DigitKitError):
    """The TFLite converter failed or produced a model that breaks the kit's input contract."""


def export_tflite(
    model,
    fmt: str,
    representative: np.ndarray | None = None,
    int8_input: str = DEFAULT_INT8_INPUT,
    int8_output: str = DEFAULT_INT8_OUTPUT,
) -> bytes:
    """Convert a Keras model to TFLite bytes.

    ``fmt``: ``float32``; ``float16`` (float16 weights); ``dynamic`` (dynamic-range int8
    weights); ``int8`` (full integer, TFLITE_BUILTINS_INT8, calibrated on ``representative``
    images (N, 28, 28) of uint8 pixels, with ``int8_input`` / ``int8_output`` tensor types).
    """
    import tensorflow as tf

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if fmt in ("float16", "dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if fmt == "int8":
        if representative is None:
            raise ValueError("int8 conversion needs representative images for calibration")
        if int8_input not in INT8_INPUT_TYPES or int8_output not in INT8_OUTPUT_TYPES:
            raise ValueError(
                f"int8 input type must be one of {INT8_INPUT_TYPES} and output one of "
                f"{INT8_OUTPUT_TYPES}, got {int8_input!r} / {int8_output!r}"
            )
        converter.representative_dataset = calibration_batches(representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.as_dtype(int8_input)
        converter.inference_output_type = tf.as_dtype(int8_output)
    try:
        # Keras' SavedModel export prints to stdout; keep the CLI's stdout for its table.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Statistics for quantized inputs were expected"
            )
            model_bytes = bytes(converter.convert())
    except (
        Exception
    ) as exc:  # the converter raises many unrelated types (ConverterError, ValueError, ...)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"TFLite conversion to {fmt} failed: {message}") from exc
    if fmt == "int8":
        check_int8_io(model_bytes, int8_input, int8_output)
    return model_bytes


def check_int8_io(model_bytes: bytes, int8_input: str, int8_output: str) -> None:
    """``ConversionError`` unless the I/O types are as asked and a uint8 input takes raw pixels."""
    from convert.parity import gate_classifier

    classifier = gate_classifier(model_bytes)
    given, wanted = classifier.input_spec, classifier.output_spec
    if (given.dtype.name, wanted.dtype.name) != (int8_input, int8_output):
        raise ConversionError(
            f"the converter produced input {given.dtype} / output {wanted.dtype}, "
            f"requested {int8_input} / {int8_output}"
        )
    if int8_input == "uint8" and not given.raw_pixels:
        raise ConversionError(
            f"the uint8 input has scale {given.scale} and zero point {given.zero_point}, not "
            "1/255 and 0, so devices could not feed raw 0..255 pixels; the representative "
            "images must span the full pixel range (black and white)"
        )
