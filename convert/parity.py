"""Parity of a TFLite file with its Keras model on the MNIST test set, and the gate that accepts it.

Accuracy and agreement are in percent; ``accuracy_delta`` is TFLite minus Keras in percentage
points. The TFLite side runs through ``runtime.DigitClassifier`` on the LiteRT backend (one
thread): the very code a device runs, from uint8 pixels to probabilities.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convert.source import logits_model
from runtime.backends import TensorSpec
from runtime.classifier import DigitClassifier, softmax

DEFAULT_MAX_ACCURACY_DROP = 0.2
DEFAULT_MIN_AGREEMENT = 99.5
DEFAULT_TIMING_IMAGES = 2000
KERAS_BATCH_SIZE = 1024
GATE_BACKEND = "litert"
_TIMING_WARMUP = 20


@dataclass(frozen=True)
class GateThresholds:
    """A TFLite file passes when it loses at most ``max_accuracy_drop`` points and agrees enough."""

    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP  # percentage points
    min_agreement: float = DEFAULT_MIN_AGREEMENT  # percent of test images with Keras' top-1 class

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class KerasReference:
    """The Keras model's probabilities on a labelled image set (uint8 pixels)."""

    images: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        from sklearn.metrics import accuracy_score

        return 100.0 * float(accuracy_score(self.labels, self.predictions))


def keras_reference(model, images: np.ndarray, labels: np.ndarray) -> KerasReference:
    """Run the Keras model once, batched, over ``images`` (uint8 pixels, fed as pixel/255):
    its probabilities, the runtime's softmax of its logits whether it ends in a softmax or in
    logits (the raw logits of a logits model were compared with the files' probabilities)."""
    logits = logits_model(model).predict(
        images.astype(np.float32) / np.float32(255), batch_size=KERAS_BATCH_SIZE, verbose=0
    )
    return KerasReference(
        images=images, labels=np.asarray(labels), probabilities=softmax(np.asarray(logits))
    )


@dataclass(frozen=True)
class FormatParity:
    """How one TFLite file compares with Keras, and whether it passed the gate."""

    format: str
    accuracy: float
    accuracy_delta: float
    agreement: float
    max_abs_prob_diff: float | None  # None when the file produced NaN or infinite scores
    size_bytes: int
    mean_ms_per_image: float | None
    input: TensorSpec
    output: TensorSpec
    output_kind: str = "probabilities"
    failures: tuple[str, ...] = ()
    path: Path | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def figures(self) -> dict[str, Any]:
        """The file's own parity facts (no path, size or timing): what its metadata records."""
        return {
            "accuracy": round(self.accuracy, 4),
            "accuracy_delta": round(self.accuracy_delta, 4),
            "agreement": round(self.agreement, 4),
            "max_abs_prob_diff": self.max_abs_prob_diff,
            "passed": self.passed,
            "failures": list(self.failures),
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "output_kind": self.output_kind,
            "raw_pixel_input": self.input.raw_pixels,
        }

    def to_dict(self, relative_to: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """JSON-ready record; ``path`` is relative to ``relative_to`` when given."""
        path = self.path
        if path is not None and relative_to is not None:
            path = Path(os.path.relpath(path, relative_to))
        timing = None if self.mean_ms_per_image is None else round(self.mean_ms_per_image, 4)
        return {
            "path": None if path is None else path.as_posix(),
            "size_bytes": self.size_bytes,
            "mean_ms_per_image": timing,
            **self.figures(),
        }


def gate_failures(
    accuracy: float,
    keras_accuracy: float,
    agreement: float,
    finite: bool,
    thresholds: GateThresholds,
) -> tuple[str, ...]:
    """Human-readable reasons a file fails the gate (empty when it passes)."""
    failures = []
    if not finite:
        failures.append("the model produced NaN or infinite scores")
    drop = keras_accuracy - accuracy
    if drop > thresholds.max_accuracy_drop:
        failures.append(
            f"accuracy {accuracy:.2f}% is {drop:.2f} points below Keras' {keras_accuracy:.2f}% "
            f"(allowed drop {thresholds.max_accuracy_drop:.2f})"
        )
    if agreement < thresholds.min_agreement:
        failures.append(
            f"top-1 agreement with Keras is {agreement:.2f}%, "
            f"below the required {thresholds.min_agreement:.2f}%"
        )
    return tuple(failures)


def gate_classifier(model: bytes | os.PathLike[str] | str) -> DigitClassifier:
    """The device runtime on the gate's backend, one thread, for ``model`` (path or bytes)."""
    return DigitClassifier(model, backend=GATE_BACKEND, num_threads=1, verify_metadata=False)


def mean_latency_ms(classifier: DigitClassifier, pixels: np.ndarray) -> float:
    """Mean milliseconds of ``classifier.predict`` per uint8 28x28 image (batch 1)."""
    for image in pixels[:_TIMING_WARMUP]:
        classifier.predict(image)
    start = time.perf_counter()
    for image in pixels:
        classifier.predict(image)
    return (time.perf_counter() - start) * 1000.0 / max(len(pixels), 1)


def check_parity(
    model: bytes | os.PathLike[str] | str,
    reference: KerasReference,
    thresholds: GateThresholds | None = None,
    fmt: str = "",
    timing_images: int = DEFAULT_TIMING_IMAGES,
) -> FormatParity:
    """Evaluate a TFLite model (bytes or path) against ``reference`` and apply the gate.

    Raises ``ModelFormatError`` when ``model`` is not a TFLite model the runtime can run.
    """
    from sklearn.metrics import accuracy_score

    thresholds = thresholds or GateThresholds()
    classifier = gate_classifier(model)
    probabilities = classifier.predict_proba(reference.images)
    finite = bool(np.isfinite(probabilities).all())
    predictions = probabilities.argmax(axis=1)
    accuracy = 100.0 * float(accuracy_score(reference.labels, predictions))
    agreement = 100.0 * float(accuracy_score(reference.predictions, predictions))
    max_diff = float(np.abs(probabilities - reference.probabilities).max()) if finite else None
    timing = None
    if timing_images > 0:
        timing = mean_latency_ms(classifier, reference.images[:timing_images])
    keras_accuracy = reference.accuracy
    is_bytes = isinstance(model, bytes | bytearray | memoryview)
    return FormatParity(
        format=fmt,
        accuracy=accuracy,
        accuracy_delta=accuracy - keras_accuracy,
        agreement=agreement,
        max_abs_prob_diff=max_diff,
        size_bytes=len(model) if is_bytes else Path(model).stat().st_size,
        mean_ms_per_image=timing,
        input=classifier.input_spec,
        output=classifier.output_spec,
        output_kind=classifier.output_kind,
        failures=gate_failures(accuracy, keras_accuracy, agreement, finite, thresholds),
        path=None if is_bytes else Path(model),
    )


@dataclass
class ParityReport:
    """Parity of every converted format with the Keras model (what ``parity.json`` holds)."""

    keras_model: str
    source_model_sha256: str
    keras_accuracy: float
    test_images: int
    thresholds: GateThresholds
    formats: dict[str, FormatParity] = field(default_factory=dict)
    representative: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.formats.values())

    @property
    def failed_formats(self) -> list[str]:
        return [fmt for fmt, result in self.formats.items() if not result.passed]

    def to_dict(self, relative_to: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        return {
            "keras_model": self.keras_model,
            "source_model_sha256": self.source_model_sha256,
            "keras_accuracy": round(self.keras_accuracy, 4),
            "test_images": self.test_images,
            "units": {
                "accuracy": "percent",
                "accuracy_delta": "percentage points (TFLite minus Keras)",
                "agreement": "percent of test images with Keras' top-1 class",
                "max_abs_prob_diff": "largest |p_tflite - p_keras| over all images and classes",
                "mean_ms_per_image": "ms, DigitClassifier.predict on LiteRT, 1 thread, uint8 pixels to probabilities",
            },
            "thresholds": self.thresholds.to_dict(),
            "representative": self.representative,
            "passed": self.passed,
            "formats": {fmt: result.to_dict(relative_to) for fmt, result in self.formats.items()},
        }

    def format_table(self) -> str:
        """A plain-text table: one row per format, Keras first."""
        columns = ("format", "size_bytes", "accuracy", "delta_pts", "agreement", "max_abs_dp")
        widths = (-8, 11, 9, 9, 9, 10, 8)
        header = (*columns, "ms/image")
        keras = ("keras", "-", f"{self.keras_accuracy:.2f}%", "-", "-", "-", "-")
        rows = [_row(header, widths) + "  gate", _row(keras, widths) + "  -"]
        for fmt, r in self.formats.items():
            diff = "nan" if r.max_abs_prob_diff is None else f"{r.max_abs_prob_diff:.2e}"
            timing = "-" if r.mean_ms_per_image is None else f"{r.mean_ms_per_image:.3f}"
            gate = "PASS" if r.passed else "FAIL: " + "; ".join(r.failures)
            cells = (fmt, f"{r.size_bytes:,}", f"{r.accuracy:.2f}%", f"{r.accuracy_delta:+.2f}")
            cells += (f"{r.agreement:.2f}%", diff, timing)
            rows.append(f"{_row(cells, widths)}  {gate}")
        return "\n".join(rows)


def _row(cells: tuple[str, ...], widths: tuple[int, ...]) -> str:
    # A negative width left-aligns the column.
    return " ".join(
        f"{cell:<{-w}}" if w < 0 else f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True)
    )
