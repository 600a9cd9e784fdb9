"""Convert a ``.keras`` file to each requested TFLite format, gate it on parity, publish or reject.

Each file is checked in memory through the device runtime, given its metadata, and only then
written (atomically) to ``model_<fmt>.tflite`` (passed) or ``rejected/model_<fmt>.tflite.rejected``
(failed), so a file that failed the gate never sits where a device would pick it up.

The exported network is the Keras model up to its logits (``convert.source.logits_model``):
the runtime applies the softmax in float32, so an int8 file's confidences keep their
resolution near 1 instead of coming in steps of 1/256.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from convert.export import (
    DEFAULT_INT8_INPUT,
    DEFAULT_INT8_OUTPUT,
    FORMATS,
    ConversionError,
    export_tflite,
)
from convert.metadata import build_metadata, embed_metadata
from convert.parity import (
    DEFAULT_TIMING_IMAGES,
    FormatParity,
    GateThresholds,
    KerasReference,
    ParityReport,
    check_parity,
    gate_classifier,
    keras_reference,
)
from convert.representative import DEFAULT_SEED, DEFAULT_SIZE, stratified_sample
from convert.source import load_keras_model, logits_model, training_threshold
from runtime.atomic import write_bytes, write_json
from runtime.errors import DigitKitError
from runtime.metadata import ModelMetadata, embedded_metadata
from runtime.model_file import read_metadata
from train.data import MnistData, load_mnist, sha256_of

PARITY_FILE = "parity.json"
REJECTED_DIR = "rejected"
VERIFY_IMAGES = 64


def accepted_path(out_dir: str | os.PathLike[str], fmt: str) -> Path:
    """Where an accepted file of format ``fmt`` is published."""
    return Path(out_dir) / f"model_{fmt}.tflite"


def rejected_path(out_dir: str | os.PathLike[str], fmt: str) -> Path:
    """Where a file of format ``fmt`` that failed the gate is kept for inspection."""
    return Path(out_dir) / REJECTED_DIR / f"model_{fmt}.tflite.rejected"


def normalize_formats(formats: Iterable[str] | str) -> list[str]:
    """Requested formats in order, without repeats; ``"all"`` means every format."""
    names = formats.split(",") if isinstance(formats, str) else list(formats)
    names = [name.strip().lower() for name in names if name.strip()]
    if "all" in names:
        return list(FORMATS)
    unknown = sorted(set(names) - set(FORMATS))
    if unknown or not names:
        raise ValueError(
            f"unknown format(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(FORMATS)} or all"
        )
    return list(dict.fromkeys(names))


def verify_embedded(
    embedded: bytes, original: bytes, metadata: ModelMetadata, images: np.ndarray
) -> None:
    """Check the embedded file reads its metadata back and computes what ``original`` did."""
    if gate_classifier(embedded).metadata != metadata or embedded_metadata(embedded) != metadata:
        raise ConversionError("the embedded metadata does not read back unchanged")
    before = gate_classifier(original).predict_proba(images)
    after = gate_classifier(embedded).predict_proba(images)
    if not np.array_equal(before, after, equal_nan=True):
        raise ConversionError("embedding metadata changed the model's outputs")


def publish_or_reject(
    raw: bytes,
    fmt: str,
    out_dir: Path,
    reference: KerasReference,
    thresholds: GateThresholds,
    source_sha256: str,
    extra_parity: dict[str, Any],
    timing_images: int,
    threshold: float | None = None,
) -> FormatParity:
    """Gate ``raw`` bytes; move the file, with metadata, to its accepted or rejected path."""
    final, rejected = accepted_path(out_dir, fmt), rejected_path(out_dir, fmt)
    result = check_parity(raw, reference, thresholds, fmt=fmt, timing_images=timing_images)
    parity = {
        "keras_accuracy": round(reference.accuracy, 4),
        "test_images": len(reference.labels),
        "thresholds": thresholds.to_dict(),
        **result.figures(),
        **extra_parity,
    }
    metadata = build_metadata(raw, fmt, source_sha256, parity, threshold=threshold)
    embedded = embed_metadata(raw, metadata)
    verify_embedded(embedded, raw, metadata, reference.images[:VERIFY_IMAGES])
    destination, stale = (final, rejected) if result.passed else (rejected, final)
    destination.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(destination, embedded)
    stale.unlink(missing_ok=True)
    return dataclasses.replace(result, path=destination, size_bytes=len(embedded))


def _load_data(data: MnistData | str | os.PathLike[str] | None) -> MnistData:
    return data if isinstance(data, MnistData) else load_mnist(data)


def convert_model(
    keras_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    formats: Iterable[str] | str = FORMATS,
    data: MnistData | str | os.PathLike[str] | None = None,
    thresholds: GateThresholds | None = None,
    representative_size: int = DEFAULT_SIZE,
    seed: int = DEFAULT_SEED,
    int8_input: str = DEFAULT_INT8_INPUT,
    int8_output: str = DEFAULT_INT8_OUTPUT,
    timing_images: int = DEFAULT_TIMING_IMAGES,
    progress: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> ParityReport:
    """Convert ``keras_path`` to each format in ``out_dir``, gate it, and write ``parity.json``.

    ``data`` is MNIST (``MnistData``) or its directory; ``None`` uses ``train.data.load_mnist``'s
    lookup. Returns the report; ``report.passed`` is False when any format failed the gate.
    ``out_dir`` holding the conversion of another model is a ``DigitKitError`` unless
    ``overwrite``, which removes that conversion first.
    """
    formats = normalize_formats(formats)
    thresholds = thresholds or GateThresholds()
    say = progress or (lambda message: None)
    out = Path(out_dir)
    model = load_keras_model(keras_path)
    exported = logits_model(model)
    threshold = training_threshold(keras_path)
    say(
        f"acceptance threshold {threshold} from the training report"
        if threshold is not None
        else "no training report beside the model: the runtime's default threshold applies"
    )
    source_sha256 = sha256_of(Path(keras_path))
    earlier = earlier_conversion(out)
    if earlier is not None and earlier != source_sha256:
        if not overwrite:
            raise DigitKitError(
                f"{out} holds the conversion of another model; pass --overwrite to replace it "
                "or choose another --out"
            )
        remove_conversion(out)
    mnist = _load_data(data)
    out.mkdir(parents=True, exist_ok=True)
    say(f"Keras reference on {len(mnist.y_test)} test images")
    reference = keras_reference(model, mnist.x_test, mnist.y_test)

    representative_images = None
    representative: dict[str, Any] = {}
    if "int8" in formats:
        indices = stratified_sample(mnist.y_train, representative_size, seed)
        representative_images = mnist.x_train[indices]
        classes, counts = np.unique(mnist.y_train[indices], return_counts=True)
        representative = {
            "source": "MNIST training images, stratified by class",
            "size": len(indices),
            "seed": seed,
            "class_counts": {str(int(c)): int(n) for c, n in zip(classes, counts, strict=True)},
        }

    report = ParityReport(
        keras_model=str(keras_path),
        source_model_sha256=source_sha256,
        keras_accuracy=reference.accuracy,
        test_images=len(mnist.y_test),
        thresholds=thresholds,
        representative=representative,
    )
    for fmt in formats:
        say(f"converting {fmt}")
        raw = export_tflite(exported, fmt, representative_images, int8_input, int8_output)
        extra = (
            {"representative": {k: representative[k] for k in ("size", "seed")}}
            if fmt == "int8"
            else {}
        )
        say(f"checking parity of {fmt} through the device runtime (LiteRT)")
        report.formats[fmt] = publish_or_reject(
            raw, fmt, out, reference, thresholds, source_sha256, extra, timing_images, threshold
        )
    record = report.to_dict(relative_to=out)
    earlier = _earlier_formats(out, source_sha256, formats)
    if earlier:
        record["formats"] = {**earlier, **record["formats"]}
        record["passed"] = all(entry.get("passed") is True for entry in record["formats"].values())
    write_json(out / PARITY_FILE, record)
    return report


def _earlier_report(out: Path) -> dict[str, Any]:
    """``out``'s parity report, or an empty one when there is none that reads as a report."""
    try:
        report = json.loads((out / PARITY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}


def earlier_conversion(out: Path) -> str | None:
    """The SHA-256 of the Keras model whose conversion ``out`` holds, from its parity report or
    else its published files' metadata; None when it holds none."""
    parity = _earlier_report(out)
    if isinstance(parity.get("source_model_sha256"), str):
        return parity["source_model_sha256"]
    for fmt in FORMATS:
        try:
            metadata = read_metadata(accepted_path(out, fmt), verify=False)
        except DigitKitError:  # no such file, or not one of the kit's
            continue
        if metadata is not None:
            return metadata.source_model_sha256
    return None


def remove_conversion(out: Path) -> None:
    """Remove ``out``'s parity report and every format's published and rejected file."""
    (out / PARITY_FILE).unlink(missing_ok=True)
    for fmt in FORMATS:
        accepted_path(out, fmt).unlink(missing_ok=True)
        rejected_path(out, fmt).unlink(missing_ok=True)


def _earlier_formats(out: Path, source_sha256: str, converted: Iterable[str]) -> dict[str, Any]:
    """The entries of ``out``'s earlier parity report for formats not converted now, kept
    (marked ``earlier_run``) when they are of the same Keras model and their files are still
    there: converting one format again must not drop the record of the others."""
    earlier = _earlier_report(out)
    if earlier.get("source_model_sha256") != source_sha256:
        return {}
    kept = {}
    for fmt, entry in (earlier.get("formats") or {}).items():
        if fmt in converted or not isinstance(entry, dict):
            continue
        path = entry.get("path")
        if isinstance(path, str) and (out / path).is_file():
            kept[fmt] = {**entry, "earlier_run": True}
    return kept
