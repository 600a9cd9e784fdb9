"""Classify handwritten digits with a ``.tflite`` file written by ``convert``.

    clf = DigitClassifier("model_int8.tflite")      # backend="auto", num_threads=1
    clf.predict(mnist_28x28_uint8).digit             # one image -> Prediction
    clf.predict(photo)                               # any other image: runtime.preprocess first
    clf.predict_batch(images)                        # list of Predictions, one vectorized run
    clf.predict_proba(batch_n_28_28)                 # (N, 10) float32, the fast array path

Inputs. A 28x28 array is taken as already in MNIST form: white digit on black, either uint8
0..255 or float 0..1. Any other 2-D (grayscale) or 3-D (color) image goes through
``runtime.preprocess.preprocess`` (imported on first use, it needs OpenCV).

Quantization is read from the model's input and output tensors, so one code path serves
float32, float16, dynamic-range and full-int8 files (uint8, int8 or float32 input; float or
quantized output): pixels are mapped to the input type by a 256-entry table computed at load
time, quantized outputs are dequantized with the output's scale and zero point.

Metadata. The ``digit_kit`` metadata ``convert`` embeds is read and, by default, verified
against the weights (a mismatch raises ``MetadataMismatchError``). A file without metadata
(e.g. converted by hand) still works: labels are the digits 0-9 in output order and inputs
are ``pixel/255`` white on black, which is what every kit model uses; ``clf.metadata`` is then
None.

Rejection. ``Prediction.accepted`` is ``confidence >= threshold``. The default
:data:`DEFAULT_THRESHOLD` (0.7) rejects the ambiguous cases where a second digit keeps a real
share of the probability, while a well-trained model keeps accepting almost all clean
digits. Models from ``train``'s default recipe also learned to spread their probability over
non-digits (outlier exposure, ``train/outliers.py``), so the same cut rejects most scribbles,
letters and blobs; a model trained without it is often confident on them. Override per
classifier with ``threshold=``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runtime.backends import Backend, TensorSpec, create_backend
from runtime.errors import ImageError, ModelFormatError
from runtime.metadata import DEFAULT_LABELS, ModelMetadata, load_flatbuffer, read_metadata

DEFAULT_THRESHOLD = 0.7
MNIST_SHAPE = (28, 28)
MNIST_PIXELS = 28 * 28
NUM_CLASSES = 10
_ACCEPTED_INPUT_SHAPES = ((1, *MNIST_SHAPE), (1, MNIST_PIXELS))
_UINT8 = np.dtype(np.uint8)
_MODEL_DTYPES = (np.dtype(np.float32), _UINT8, np.dtype(np.int8))


@dataclass(frozen=True, slots=True)
class Prediction:
    """One classified image.

    ``probabilities`` is a tuple of 10 Python floats (index = digit), so a ``Prediction`` is
    immutable, hashable and JSON-ready; use ``predict_proba`` for arrays. For quantized
    outputs the values are the dequantized model outputs (multiples of the output scale).
    """

    digit: int
    confidence: float
    probabilities: tuple[float, ...]
    accepted: bool


class DigitClassifier:
    """A TFLite digit model loaded on one inference backend. Not thread-safe: use one per thread."""

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        backend: str = "auto",
        num_threads: int = 1,
        threshold: float | None = None,
        verify_metadata: bool = True,
    ) -> None:
        """Load ``model_path`` with ``backend`` ("auto", "litert", "tflite_runtime",
        "tensorflow" or "numpy").

        Raises ``ModelFormatError`` (not a TFLite file, wrong signature, bad metadata),
        ``MetadataMismatchError`` and ``BackendUnavailableError``.
        """
        if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}")
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.model_path = Path(model_path)
        source = str(self.model_path)
        model = _read_model_file(self.model_path)
        load_flatbuffer(model, source)
        self.metadata: ModelMetadata | None = read_metadata(model, verify=verify_metadata)
        labels = _check_metadata(self.metadata, source)
        self._backend: Backend = create_backend(
            backend, model, num_threads=num_threads, source=source
        )
        self.backend_name: str = self._backend.name
        self.input_spec: TensorSpec = self._backend.input_spec
        self.output_spec: TensorSpec = self._backend.output_spec
        _check_signature(self.input_spec, self.output_spec, source)
        self._digits = tuple(int(label) for label in labels)
        self._one_shape = self.input_spec.shape
        self._sample_shape = self.input_spec.shape[1:]
        self._pixel_table = _pixel_table(self.input_spec)
        self._pixels_are_input = np.array_equal(self._pixel_table, np.arange(256)) and (
            self.input_spec.dtype == np.uint8
        )
        self._output_scale = np.float32(self.output_spec.scale)
        self._output_zero = np.float32(self.output_spec.zero_point)

    @property
    def threshold(self) -> float:
        """Minimum confidence for ``Prediction.accepted`` (settable, in [0, 1])."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = _check_threshold(value)

    def __repr__(self) -> str:
        return (
            f"DigitClassifier({str(self.model_path)!r}, backend={self.backend_name!r}, "
            f"threshold={self.threshold})"
        )

    def predict(self, image: Any) -> Prediction:
        """Classify one image: a 28x28 MNIST-form array, or any photo/scan (preprocessed first).

        Raises ``ImageError`` for empty, NaN/inf, wrong-dtype or wrongly shaped input and
        ``NoDigitFoundError`` when preprocessing finds no ink.
        """
        if type(image) is np.ndarray and image.dtype is _UINT8 and image.shape == MNIST_SHAPE:
            pixels = image  # the camera/MNIST fast path: nothing to validate
        else:
            pixels = _mnist_form(image)
        if pixels.dtype is _UINT8 and self._pixels_are_input:
            sample = pixels
        else:
            sample = self._model_input(pixels)
        raw = self._backend.run_one(sample.reshape(self._one_shape))
        return self._prediction(raw[0])

    def predict_batch(self, images: Iterable[Any]) -> list[Prediction]:
        """Classify many images in one vectorized run; returns one ``Prediction`` per image.

        ``images`` is an ``(N, 28, 28)`` / ``(N, 784)`` MNIST-form array or any iterable of
        images as :meth:`predict` takes them (photos are preprocessed one by one first).
        """
        if isinstance(images, np.ndarray) and _is_mnist_batch(images):
            probabilities = self.predict_proba(images)
        else:
            try:
                iterator = iter(images)
            except TypeError:
                raise ImageError(
                    f"predict_batch takes an array or an iterable of images, not {type(images).__name__}"
                ) from None
            samples = []
            for index, image in enumerate(iterator):
                try:
                    samples.append(self._model_input(_mnist_form(image)))
                except ImageError as exc:
                    raise type(exc)(f"image {index}: {exc}") from exc
            if not samples:
                return []
            probabilities = self._dequantize(self._backend.run_batch(np.stack(samples)))
        return [self._prediction_from_probabilities(row) for row in probabilities]

    def predict_proba(self, batch: Any) -> np.ndarray:
        """Class probabilities ``(N, 10)`` float32 for an ``(N, 28, 28)`` or ``(N, 784)`` batch
        of MNIST-form images (uint8 0..255 or float 0..1). The fast path for many digits."""
        pixels = _mnist_batch(batch)
        if len(pixels) == 0:
            return np.zeros((0, NUM_CLASSES), dtype=np.float32)
        samples = self._model_input(pixels.reshape(len(pixels), *self._sample_shape))
        return self._dequantize(self._backend.run_batch(samples))

    def _model_input(self, pixels: np.ndarray) -> np.ndarray:
        """MNIST-form pixels (uint8 or float 0..1, any leading shape) in the model's input type."""
        if pixels.dtype == np.uint8:
            return pixels if self._pixels_are_input else self._pixel_table[pixels]
        spec = self.input_spec
        if not spec.quantized:
            return pixels.astype(np.float32, copy=False)
        info = np.iinfo(spec.dtype)
        levels = np.floor(pixels / np.float32(spec.scale) + np.float32(0.5)) + spec.zero_point
        return np.clip(levels, info.min, info.max).astype(spec.dtype)

    def _dequantize(self, raw: np.ndarray) -> np.ndarray:
        if self._output_scale:
            return (raw.astype(np.float32) - self._output_zero) * self._output_scale
        return raw.astype(np.float32, copy=False)

    def _prediction(self, raw_row: np.ndarray) -> Prediction:
        return self._prediction_from_probabilities(self._dequantize(raw_row))

    def _prediction_from_probabilities(self, probabilities: np.ndarray) -> Prediction:
        values = probabilities.tolist()  # ten Python floats: cheaper than NumPy scalars here
        index = values.index(max(values))
        confidence = values[index]
        return Prediction(
            self._digits[index], confidence, tuple(values), confidence >= self._threshold
        )


def _check_threshold(threshold: Any) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return value


def _read_model_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelFormatError(f"model file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ModelFormatError(
            f"model path {str(path)!r} is a directory, not a .tflite file"
        ) from None
    except OSError as exc:
        raise ModelFormatError(
            f"cannot read model file {str(path)!r}: {exc.strerror or exc}"
        ) from exc


def _check_metadata(metadata: ModelMetadata | None, source: str) -> tuple[str, ...]:
    """Reject metadata this runtime cannot honour; return the class labels."""
    if metadata is None:
        return DEFAULT_LABELS
    problems = []
    if tuple(metadata.input_shape) != MNIST_SHAPE:
        problems.append(f"input_shape {list(metadata.input_shape)} (expected [28, 28])")
    if metadata.input_normalization != "pixel/255":
        problems.append(f"input_normalization {metadata.input_normalization!r}")
    if metadata.polarity != "white_on_black":
        problems.append(f"polarity {metadata.polarity!r}")
    if len(metadata.labels) != NUM_CLASSES or not all(
        str(label).isdigit() for label in metadata.labels
    ):
        problems.append(f"labels {list(metadata.labels)} (expected the 10 digits)")
    if problems:
        raise ModelFormatError(
            f"{source}: metadata this runtime does not support: {'; '.join(problems)}"
        )
    return tuple(metadata.labels)


def _check_signature(input_spec: TensorSpec, output_spec: TensorSpec, source: str) -> None:
    if input_spec.shape not in _ACCEPTED_INPUT_SHAPES:
        raise ModelFormatError(
            f"{source}: model input shape is {list(input_spec.shape)}; a digit model takes "
            "[1, 28, 28] or [1, 784]"
        )
    if output_spec.shape != (1, NUM_CLASSES):
        raise ModelFormatError(
            f"{source}: model output shape is {list(output_spec.shape)}; a digit model gives "
            f"[1, {NUM_CLASSES}] class probabilities"
        )
    for role, spec in (("input", input_spec), ("output", output_spec)):
        if spec.dtype not in _MODEL_DTYPES:
            raise ModelFormatError(
                f"{source}: model {role} type is {spec.dtype}; expected float32, uint8 or int8"
            )
        if spec.dtype != np.float32 and not spec.scale > 0:
            raise ModelFormatError(
                f"{source}: model {role} is {spec.dtype} without a quantization scale"
            )


def _pixel_table(spec: TensorSpec) -> np.ndarray:
    """The model input value for each uint8 pixel: ``pixel/255`` as float32 or quantized."""
    reals = np.arange(256, dtype=np.float32) / np.float32(255)
    if not spec.quantized:
        return reals
    info = np.iinfo(spec.dtype)
    levels = np.floor(reals.astype(np.float64) / spec.scale + 0.5) + spec.zero_point
    return np.clip(levels, info.min, info.max).astype(spec.dtype)


def _numeric_array(image: Any, what: str) -> np.ndarray:
    """``image`` as a real-valued numeric array, or ``ImageError``."""
    if isinstance(image, (str, bytes, os.PathLike)):
        raise ImageError(f"{what} must be a pixel array, not a path; read files with cv2.imread")
    try:
        array = np.asarray(image)
    except (ValueError, TypeError) as exc:
        raise ImageError(f"{what} is not an array of pixels: {exc}") from exc
    if array.dtype.kind not in "uif":
        raise ImageError(
            f"{what} has dtype {array.dtype}; expected uint8 0..255 or float 0..1 pixels"
        )
    if array.size == 0:
        raise ImageError(f"{what} is empty (shape {array.shape})")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ImageError(f"{what} contains NaN or infinite values")
    return array


def _pixels(array: np.ndarray, what: str) -> np.ndarray:
    """Validated MNIST-form pixels: uint8 as is, other integers 0..255 to uint8, floats 0..1."""
    if array.dtype == np.uint8:
        return array
    low, high = array.min(), array.max()
    if array.dtype.kind in "ui":
        if low < 0 or high > 255:
            raise ImageError(f"{what} has integer values {low}..{high}; expected 0..255")
        return array.astype(np.uint8)
    if low < 0 or high > 1:
        raise ImageError(
            f"{what} has float values {low:g}..{high:g}; float pixels must be in 0..1 "
            "(divide 0..255 images by 255 or pass uint8)"
        )
    return array.astype(np.float32, copy=False)


def _mnist_form(image: Any) -> np.ndarray:
    """One image as 28x28 MNIST-form pixels (uint8 or float32 0..1), preprocessing photos."""
    array = _numeric_array(image, "image")
    if array.shape == MNIST_SHAPE:
        return _pixels(array, "image")
    if array.ndim not in (2, 3):
        raise ImageError(
            f"image has shape {array.shape}; expected one 2-D grayscale or 3-D color image "
            "(use predict_batch for a stack)"
        )
    from runtime.preprocess import preprocess

    return _pixels(_numeric_array(preprocess(array), "preprocessed image"), "preprocessed image")


def _is_mnist_batch(array: np.ndarray) -> bool:
    return (array.ndim == 3 and array.shape[1:] == MNIST_SHAPE) or (
        array.ndim == 2 and array.shape[1] == MNIST_PIXELS
    )


def _mnist_batch(batch: Any) -> np.ndarray:
    """A batch as ``(N, 28, 28)`` / ``(N, 784)`` MNIST-form pixels, or ``ImageError``."""
    if isinstance(batch, np.ndarray) and batch.dtype == np.uint8 and _is_mnist_batch(batch):
        return batch
    if isinstance(batch, np.ndarray) and batch.size == 0 and _is_mnist_batch(batch):
        return batch.astype(np.uint8)
    array = _numeric_array(batch, "batch")
    if not _is_mnist_batch(array):
        raise ImageError(
            f"batch has shape {array.shape}; predict_proba takes MNIST-form (N, 28, 28) or "
            "(N, 784) arrays (use predict_batch for photos)"
        )
    return _pixels(array, "batch")
