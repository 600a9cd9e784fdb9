"""Validate image arrays and bring them to 8-bit grayscale at a working resolution.

Every image entry point of the kit goes through ``as_gray_u8``, so a bad array gets a clear
``ImageError`` rather than a traceback from NumPy or OpenCV.
"""

from __future__ import annotations

import numpy as np

from runtime.errors import DigitKitError, ImageError

_SUPPORTED_DTYPES = "bool, uint8, uint16 or float (0..1 or 0..255)"
# cv::utils::logging::LOG_LEVEL_ERROR; OpenCV before 4.13 exposes the level only as a number.
_OPENCV_LOG_LEVEL_ERROR = 2


def require_opencv():
    """Return the ``cv2`` module, or raise a clear error on an install without OpenCV."""
    try:
        import cv2
    except ImportError as exc:
        raise DigitKitError(
            "image preprocessing needs OpenCV: pip install 'digit-kit[camera]' "
            "(opencv-python-headless); classifying 28x28 MNIST-form arrays does not"
        ) from exc
    return cv2


def quiet_opencv_logs() -> None:
    """Show only OpenCV's errors (its warnings repeat the kit's clearer messages), on every version.

    OpenCV 4.13 moved the call to ``cv2.utils.logging.setLogLevel`` and dropped
    ``cv2.setLogLevel``; 4.6-4.12 (Debian Bookworm ships 4.6) have only the latter.
    """
    cv2 = require_opencv()
    logging_module = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_module is not None and hasattr(logging_module, "setLogLevel"):
        logging_module.setLogLevel(logging_module.LOG_LEVEL_ERROR)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(_OPENCV_LOG_LEVEL_ERROR)


def as_gray_u8(image: np.ndarray) -> np.ndarray:
    """Validate ``image`` and return it as a C-contiguous uint8 grayscale (H, W) array.

    Accepts (H, W), (H, W, 1), BGR (H, W, 3) or BGRA (H, W, 4); dtype bool, uint8, uint16
    (0..65535) or float (0..1, or 0..255 when any value exceeds 1). Transparent BGRA pixels
    are composited over a background that contrasts with the opaque ink.
    """
    require_opencv()
    arr = validated_array(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    u8 = to_u8(arr)
    if u8.ndim == 2:
        return np.ascontiguousarray(u8)
    import cv2

    if u8.shape[2] == 4:
        return _composite_alpha(u8)
    return cv2.cvtColor(np.ascontiguousarray(u8), cv2.COLOR_BGR2GRAY)


def validated_array(image: object) -> np.ndarray:
    """``image`` as an ndarray of a supported shape and dtype, else ``ImageError``."""
    if not isinstance(image, np.ndarray):
        try:
            image = np.asarray(image)
        except (TypeError, ValueError) as exc:
            raise ImageError(f"the image is not an array: {exc}") from exc
    if image.size == 0:
        raise ImageError(f"the image is empty (shape {image.shape})")
    if image.ndim not in (2, 3):
        raise ImageError(
            f"the image must be 2-D grayscale (H, W) or 3-D color (H, W, C); got shape {image.shape}"
        )
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ImageError(
            f"a color image must have 1, 3 (BGR) or 4 (BGRA) channels; got shape {image.shape}"
        )
    kind = image.dtype
    if not (kind == np.bool_ or kind in (np.uint8, np.uint16) or np.issubdtype(kind, np.floating)):
        raise ImageError(
            f"unsupported image dtype {kind}: use {_SUPPORTED_DTYPES} "
            "(for integer arrays holding 0..255 values, call image.astype(np.uint8))"
        )
    return image


def to_u8(arr: np.ndarray) -> np.ndarray:
    """A validated array as uint8 (uint16 and 0..1 floats rescaled), channels kept."""
    import cv2

    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return cv2.convertScaleAbs(arr, alpha=255.0 / 65535.0)
    values = arr.astype(np.float32, copy=False)
    if not np.isfinite(values).all():
        raise ImageError("the image contains NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if low < -1e-3 or high > 255.0 + 1e-3:
        raise ImageError(
            f"float image values must lie in 0..1 or 0..255; got the range {low:g}..{high:g}"
        )
    scale = 255.0 if high <= 1.0 else 1.0
    return cv2.convertScaleAbs(np.ascontiguousarray(values), alpha=scale)


def _composite_alpha(bgra: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(bgra), cv2.COLOR_BGRA2GRAY)
    alpha = bgra[:, :, 3].astype(np.float32) / 255.0
    if alpha.min() == 1.0:
        return gray
    opaque = alpha > 0.5
    # Dark ink on a transparent sheet goes onto white paper, light ink onto black.
    ink_level = float(gray[opaque].mean()) if opaque.any() else 0.0
    backdrop = 255.0 if ink_level < 128 else 0.0
    mixed = gray.astype(np.float32) * alpha + backdrop * (1.0 - alpha)
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def shrink(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """Downscale ``gray`` by the smallest integer step that brings its longest side to at
    most ``max_side``; return the image and the step (input pixels per output pixel).

    Integer steps keep OpenCV's INTER_AREA on its fast path (a plain block average, ~20x
    faster than a fractional one); the last ``step - 1`` rows/columns may be dropped.
    """
    import cv2

    height, width = gray.shape
    step = -(-max(height, width) // max_side)
    if step <= 1:
        return gray, 1
    rows, cols = max(1, height // step), max(1, width // step)
    block = gray[: rows * step, : cols * step]
    return cv2.resize(block, (cols, rows), interpolation=cv2.INTER_AREA), step
