"""Classify handwritten digits with a ``.tflite`` file written by ``convert``.

    clf = DigitClassifier("model_int8.tflite")      # or the file's bytes; backend="auto"
    clf.predict(mnist_28x28_uint8).digit             # one image -> Prediction
    clf.predict(photo)                               # any other image: runtime.preprocess first
    clf.predict_batch(images)                        # list of Predictions, one vectorized run
    clf.predict_proba(batch_n_28_28)                 # (N, 10) float32, the fast array path

Inputs. A 28x28 array is taken as already in MNIST form: white digit on black, with pixel
values as ``runtime.images`` defines them (uint8 0..255, float 0..1, ...). Any other 2-D
(grayscale) or 3-D (color) image goes through ``runtime.preprocess.preprocess`` (imported
on first use, it needs OpenCV).

Quantization is read from the model's input and output tensors, so one code path serves
float32, float16, dynamic-range and full-int8 files (uint8, int8 or float32 input; float or
quantized output): pixels are mapped to the input type by a 256-entry table computed at load
time (``runtime.quantization``), quantized outputs are dequantized with the output's scale and
zero point. Models whose output is logits (the kit's own, see ``convert``) get a float32
softmax here, so confidences keep their resolution near 1 even when the network runs in int8.

Metadata. The ``digit_kit`` metadata ``convert`` embeds is read and, by default, verified
against the weights (a mismatch raises ``MetadataMismatchError``). A file without metadata
(e.g. converted by hand) still works: labels are the digits 0-9 in output order and inputs
are ``pixel/255`` white on black, which is what every kit model uses; ``clf.metadata`` is then
None.

Acceptance, the one rule of the kit (the runtime, ``digit-classify``, ``read_number``, the
camera demo and the training's choice of the threshold all use :func:`accepts`, or
:func:`accepted` for arrays, both built on :func:`acceptance_bar`): a prediction is a digit
when its confidence is at least ``threshold``, and a 1 when it is ``STROKE_ODDS`` times as
sure (see there). The threshold is
the model's own (chosen when it was trained, on held-out digits and non-digits, and stored in
its metadata), else :data:`DEFAULT_THRESHOLD`; ``threshold=`` overrides it. Models from
``train``'s default recipe learned to spread their probability over non-digits (outlier
exposure), so the same cut rejects scribbles, letters and the non-digit ink a page holds.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.backends import Backend, TensorSpec, create_backend, max_threads
from runtime.errors import ImageError, ModelFormatError, NoDigitFoundError
from runtime.images import (
    MNIST_PIXELS,
    MNIST_SHAPE,
    is_mnist_batch,
    light_ground,
    mnist_batch_u8,
    to_u8,
    validated_array,
)
from runtime.metadata import DEFAULT_LABELS, ModelMetadata
from runtime.model_file import load_model
from runtime.quantization import dequantize, quantize

DEFAULT_THRESHOLD = 0.7
# A lone stroke is what a page shows most that is no digit (wood grain, a ruling's or a
# letter's stroke, a printed l or I), and a 1 is one stroke. So a 1 is accepted only when the
# classifier is this many times as sure of it, in odds p / (1 - p), as the threshold asks of
# the other digits: at a threshold of 0.986, from 0.9965. On the reading benchmark's tune
# split, 62 of the 112 false digits on digit-free frames were 1s at the threshold; odds 4
# removed 39 of them and cost 6 of the 2,048 digits read right (2 to 8 did about as well).
STROKE_ODDS = 4.0
STROKE_DIGIT = 1
NUM_CLASSES = 10
_ACCEPTED_INPUT_SHAPES = ((1, *MNIST_SHAPE), (1, MNIST_PIXELS))
_UINT8 = np.dtype(np.uint8)
_MODEL_DTYPES = (np.dtype(np.float32), _UINT8, np.dtype(np.int8))


@dataclass(frozen=True, slots=True)
class Prediction:
    """One classified image.

    ``probabilities`` is a tuple of 10 Python floats (index = digit), so a ``Prediction`` is
    immutable, hashable and JSON-ready; use ``predict_proba`` for arrays.
    """

    digit: int
    confidence: float
    probabilities: tuple[float, ...]
    accepted: bool


class DigitClassifier:
    """A TFLite digit model loaded on one inference backend.

    One classifier may be shared by threads: its calls to the interpreter take turns (a lock;
    an interpreter holds one input and one output). For throughput across cores, give each
    thread its own classifier."""

    def __init__(
        self,
        model: str | os.PathLike[str] | bytes,
        backend: str = "auto",
        num_threads: int = 1,
        threshold: float | None = None,
        verify_metadata: bool = True,
    ) -> None:
        """Load ``model`` (a ``.tflite`` path or its bytes) with ``backend`` ("auto", "litert",
        "tflite_runtime", "tensorflow" or "numpy").

        ``num_threads`` is the interpreter's thread count, at least 1; more than the CPUs this
        process may run on (``runtime.backends.max_threads``) is capped to them, so code written
        for a bigger device runs on a smaller one. ``self.num_threads`` is the count used. The
        NumPy backend ignores it (NumPy's BLAS follows its own environment variables).

        Raises ``ModelFormatError`` (missing, not a TFLite file, damaged, wrong signature, bad
        metadata), ``MetadataMismatchError``, ``BackendUnavailableError``, and ``ValueError``
        for a ``num_threads`` below 1 or a threshold outside [0, 1].
        """
        if not isinstance(num_threads, int) or isinstance(num_threads, bool):
            raise ValueError(f"num_threads must be an integer, got {num_threads!r}")
        if num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        # LiteRT starts every thread asked for (a million exhausted the system before it
        # noticed); more threads than CPUs only take turns on them.
        self.num_threads: int = min(num_threads, max_threads())
        loaded = load_model(model, verify_metadata=verify_metadata)
        source = loaded.source
        self.model_path = None if isinstance(model, bytes | bytearray | memoryview) else model
        self.metadata: ModelMetadata | None = loaded.metadata
        labels = _check_metadata(self.metadata, source)
        model_threshold = self.metadata.threshold if self.metadata is not None else None
        self.model_threshold: float = (
            DEFAULT_THRESHOLD if model_threshold is None else float(model_threshold)
        )
        self.threshold = self.model_threshold if threshold is None else threshold
        self._backend: Backend = create_backend(
            backend, loaded.data, num_threads=self.num_threads, source=source
        )
        self._lock = threading.Lock()
        self.backend_name: str = self._backend.name
        self.input_spec: TensorSpec = self._backend.input_spec
        self.output_spec: TensorSpec = self._backend.output_spec
        self.output_kind = loaded.output_kind
        _check_signature(self.input_spec, self.output_spec, source)
        digits = [int(label) for label in labels]
        # Outputs are put in digit order once, where they are read, so that index = digit for
        # every caller (the reader, the camera demo, Prediction.probabilities).
        self._digit_order = None if digits == sorted(digits) else np.argsort(digits)
        self._one_shape = self.input_spec.shape
        self._sample_shape = self.input_spec.shape[1:]
        self._pixel_table = _pixel_table(self.input_spec)
        self._pixels_are_input = self.input_spec.dtype == np.uint8 and np.array_equal(
            self._pixel_table, np.arange(256)
        )

    @property
    def threshold(self) -> float:
        """The acceptance threshold (settable, in [0, 1]); a 1 needs more (``acceptance_bar``)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = _check_threshold(value)

    def accepts(self, confidence: float, digit: int) -> bool:
        """The kit's acceptance rule: is a prediction of ``digit`` this confident a digit?"""
        return accepts(confidence, digit, self._threshold)

    def acceptance_bar(self, digit: int) -> float:
        """The confidence from which a prediction of ``digit`` is accepted (``accepts``)."""
        return acceptance_bar(self._threshold, digit)

    def __repr__(self) -> str:
        return (
            f"DigitClassifier({str(self.model_path or 'model bytes')!r}, "
            f"backend={self.backend_name!r}, threshold={self.threshold})"
        )

    def predict(self, image: Any) -> Prediction:
        """Classify one image: a 28x28 MNIST-form array, or any photo/scan (preprocessed first;
        a 28x28 image on a light ground too, ``light_ground``).

        Raises ``ImageError`` for empty, NaN/inf, wrong-dtype or wrongly shaped input and
        ``NoDigitFoundError`` when preprocessing finds no ink.
        """
        if type(image) is np.ndarray and image.dtype is _UINT8 and image.shape == MNIST_SHAPE:
            pixels = image  # the camera/MNIST fast path: nothing to validate
        else:
            array = validated_array(image)
            if array.shape == (*MNIST_SHAPE, 1):
                array = array[:, :, 0]  # one channel: MNIST form all the same
            if array.shape != MNIST_SHAPE:
                return self._predict_photo(array)
            pixels = to_u8(array)
        if light_ground(pixels):
            return self._predict_photo(pixels)
        sample = pixels if self._pixels_are_input else self._pixel_table[pixels]
        with self._lock:
            raw = self._backend.run_one(sample.reshape(self._one_shape))
        return self._prediction(self.probabilities_from_scores(self._scores(raw))[0])

    def predict_form(self, image: Any) -> Prediction:
        """Classify one 28x28 image as MNIST form (a light digit on black), as it is: without
        :meth:`predict`'s turn to the photo path for a light ground, for a caller that knows
        which way round the picture is. Raises ``ImageError`` for what :meth:`predict` refuses
        and for any other shape than 28x28 (or 28x28x1)."""
        array = validated_array(image)
        if array.shape == (*MNIST_SHAPE, 1):
            array = array[:, :, 0]
        if array.shape != MNIST_SHAPE:
            raise ImageError(
                f"predict_form takes one 28x28 MNIST-form image, got shape {array.shape}; "
                "predict prepares a photo of any size"
            )
        return self._prediction(self.predict_proba(to_u8(array)[None])[0])

    def _predict_photo(self, array: np.ndarray) -> Prediction:
        """A photo of one digit, its polarity guessed (``preprocess``'s auto mode). When the
        guess gives no digit the acceptance rule accepts, the photo is read as dark on light and
        as light on dark too, and an accepted reading of those is kept: the classifier, not the
        guess, decides (a bold digit cut at its box shows more ink than paper, and the guess
        takes its paper for the ink). Chosen on the reading benchmark's tune split: fonts-single
        99.33% -> 99.50% top-1, lowres 98.24% -> 98.30%, none of its conditions worse by more
        than one digit in 1,000."""
        from runtime.preprocess import preprocess

        predictions: list[Prediction] = []
        no_ink: NoDigitFoundError | None = None
        try:
            guessed = self._prediction(self.predict_proba(preprocess(array)[None])[0])
        except NoDigitFoundError as exc:
            no_ink = exc
        else:
            if guessed.accepted:
                return guessed
            predictions.append(guessed)
        forms = []
        for polarity in ("dark_on_light", "light_on_dark"):
            try:
                forms.append(preprocess(array, polarity))
            except NoDigitFoundError:
                continue
        if forms:
            predictions += [self._prediction(row) for row in self.predict_proba(np.stack(forms))]
        if not predictions:
            raise no_ink or NoDigitFoundError("the image holds no ink")
        accepted = [prediction for prediction in predictions if prediction.accepted]
        return max(accepted, key=lambda p: p.confidence) if accepted else predictions[0]

    def predict_batch(self, images: Iterable[Any]) -> list[Prediction]:
        """Classify many images; returns one ``Prediction`` per image, as :meth:`predict` would.

        ``images`` is an ``(N, 28, 28)`` / ``(N, 784)`` MNIST-form array (one vectorized run) or
        any iterable of images as :meth:`predict` takes them.
        """
        if isinstance(images, np.ndarray) and is_mnist_batch(images):
            pixels = mnist_batch_u8(images).reshape(len(images), *MNIST_SHAPE)
            predictions = [self._prediction(row) for row in self.predict_proba(pixels)]
            for index in np.flatnonzero(light_ground(pixels)):
                # A blank light square has no ink to prepare: its reading as it is stays.
                with contextlib.suppress(NoDigitFoundError):
                    predictions[index] = self._predict_photo(pixels[index])
            return predictions
        if isinstance(images, np.ndarray) and images.shape[-2:] == MNIST_SHAPE and images.ndim == 2:
            raise ImageError(
                "predict_batch got one 28x28 image: use predict, or a batch shaped (1, 28, 28)"
            )
        try:
            iterator = iter(images)
        except TypeError:
            raise ImageError(
                f"predict_batch takes an array or an iterable of images, not {type(images).__name__}"
            ) from None
        # MNIST-form images in one run; photos one by one (``predict``: their preparation
        # costs more than their classification, and may classify more than one form).
        slots: list[Prediction | None] = []
        pixels = []
        for index, image in enumerate(iterator):
            try:
                array = validated_array(image)
                if array.shape == MNIST_SHAPE and not light_ground(form := to_u8(array)):
                    pixels.append(form)
                    slots.append(None)
                else:
                    slots.append(self._predict_photo(array))
            except ImageError as exc:
                raise type(exc)(f"image {index}: {exc}") from exc
        batch = iter(self.predict_proba(np.stack(pixels)) if pixels else ())
        return [slot if slot is not None else self._prediction(next(batch)) for slot in slots]

    def predict_proba(self, batch: Any) -> np.ndarray:
        """Class probabilities ``(N, 10)`` float32 for an ``(N, 28, 28)`` or ``(N, 784)`` batch
        of MNIST-form images. The fast path for many digits."""
        return self.probabilities_from_scores(self.predict_scores(batch))

    def predict_scores(self, batch: Any) -> np.ndarray:
        """The model's own outputs ``(N, 10)`` float32, dequantized, in digit order (column =
        digit, whatever order the metadata's labels give the outputs): logits for the kit's
        files (``output_kind``), probabilities for a model that ends in a softmax."""
        pixels = mnist_batch_u8(batch)
        if len(pixels) == 0:
            return np.zeros((0, NUM_CLASSES), dtype=np.float32)
        samples = pixels.reshape(len(pixels), *self._sample_shape)
        if not self._pixels_are_input:
            samples = self._pixel_table[samples]
        with self._lock:
            raw = self._backend.run_batch(samples)
        return self._scores(raw)

    def probabilities_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """Class probabilities from :meth:`predict_scores`' outputs (a float32 softmax of
        logits; a model's own probabilities as they are)."""
        return softmax(scores) if self.output_kind == "logits" else scores

    def _scores(self, raw: np.ndarray) -> np.ndarray:
        spec = self.output_spec
        values = dequantize(raw, spec.scale, spec.zero_point) if spec.quantized else raw
        values = np.asarray(values, np.float32)
        return values if self._digit_order is None else values[..., self._digit_order]

    def _prediction(self, probabilities: np.ndarray) -> Prediction:
        digit = int(probabilities.argmax())  # NaN-aware as ``accepted``'s argmax
        values = probabilities.tolist()  # ten Python floats: cheaper than NumPy scalars here
        confidence = values[digit]
        return Prediction(digit, confidence, tuple(values), self.accepts(confidence, digit))


def accepted(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Which rows of ``(N, 10)`` class probabilities the acceptance rule accepts at
    ``threshold`` (``acceptance_bar`` of each row's predicted digit)."""
    probabilities = np.asarray(probabilities)
    bars = np.array([acceptance_bar(threshold, digit) for digit in range(probabilities.shape[1])])
    return _clears(probabilities.max(axis=1), bars[probabilities.argmax(axis=1)])


def accepts(confidence: float, digit: int, threshold: float) -> bool:
    """The kit's acceptance rule: is a prediction of ``digit`` with ``confidence`` a digit at
    ``threshold``? (A NaN confidence never is.)"""
    return bool(_clears(confidence, acceptance_bar(threshold, digit)))


def _clears(confidence: Any, bar: Any) -> Any:
    return confidence >= bar


def acceptance_bar(threshold: float, digit: int) -> float:
    """The confidence from which a prediction of ``digit`` is a digit at ``threshold``: the
    threshold itself, and for a 1 the confidence whose odds are ``STROKE_ODDS`` times the
    threshold's (0 stays 0 and 1 stays 1)."""
    if digit != STROKE_DIGIT or threshold in (0.0, 1.0):
        return threshold
    return STROKE_ODDS * threshold / (STROKE_ODDS * threshold + 1.0 - threshold)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, classes)`` float32 logits, computed stably in float32."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool | str | bytes):  # float("0.5") and float(True) would pass
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return value


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
    labels = [str(label) for label in metadata.labels]
    if sorted(labels) != list(DEFAULT_LABELS):
        problems.append(f"labels {labels} (expected the 10 digits, each once, in any order)")
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
            f"[1, {NUM_CLASSES}] class scores"
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
    return quantize(reals, spec.scale, spec.zero_point, spec.dtype)
