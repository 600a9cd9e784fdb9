"""Representative data for full-integer quantization: a seeded, class-stratified training sample."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

DEFAULT_SIZE = 1000
DEFAULT_SEED = 0


def stratified_sample(labels: np.ndarray, size: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Indices of ``size`` items with the class mix of ``labels`` (same seed: same sample)."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    classes = np.unique(labels)
    if not len(classes) <= size <= len(labels):
        raise ValueError(
            f"representative size must be between {len(classes)} (one per class) and "
            f"{len(labels)}, got {size}"
        )
    if size == len(labels):
        return np.arange(len(labels))
    chosen, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed
    )
    return np.sort(chosen)


def representative_images(
    images: np.ndarray, labels: np.ndarray, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """The stratified sample of ``images`` (uint8 pixels) used to calibrate int8 quantization."""
    return images[stratified_sample(labels, size, seed)]


def calibration_batches(images: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    """``TFLiteConverter.representative_dataset``: one float32 (1, 28, 28) image per step.

    ``images`` are uint8 pixels 0..255 (normalized to pixel/255 here, as the model was trained)
    or floats already in 0..1.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        floats = images.astype(np.float32) / np.float32(255)
    elif np.issubdtype(images.dtype, np.floating):
        floats = images.astype(np.float32)
        if floats.size and not (floats.min() >= 0.0 and floats.max() <= 1.0):
            raise ValueError("float representative images must hold pixel/255 values in 0..1")
    else:
        raise ValueError(
            f"representative images must be uint8 pixels or floats in 0..1, got {images.dtype}"
        )
    if floats.ndim != 3 or floats.shape[1:] != (28, 28) or len(floats) == 0:
        raise ValueError(
            f"representative images must have shape (N, 28, 28) with N > 0, got {floats.shape}"
        )

    def batches() -> Iterator[list[np.ndarray]]:
        for index in range(len(floats)):
            yield [floats[index : index + 1]]

    return batches
