"""The one place that validates image arrays and converts them to 8 bits.

Every image entry point of the kit (``DigitClassifier``, ``preprocess``, ``find_digits``,
``read_number``, the camera demo's frames) goes through this module, so every input gets
the same policy and a bad array gets a clear ``ImageError`` instead of a traceback from
NumPy or OpenCV:

===================  ==========================================================================
input                policy
===================  ==========================================================================
shape                (H, W) gray, (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA; empty: error
uint8                as it is
bool                 False 0, True 255
uint16               scaled from its bit depth: the smallest of 8, 10, 12, 14 or 16 bits that
                     holds the image's largest value (a 10/12-bit sensor in a 16-bit
                     container is not left nearly black)
other integer types  values must lie in 0..255 (taken as 8-bit), else error
float                0..1 when the largest value is at most 1, else 0..255; NaN, infinity or
                     values outside that range: error
anything else        error (complex, object, strings, paths)
===================  ==========================================================================

Rounding is to the nearest level. The 28x28 MNIST-form path (``mnist_u8`` / ``mnist_batch_u8``)
needs only NumPy, so ``import runtime`` classifies arrays on a device without OpenCV.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from runtime.errors import DigitKitError, ImageError

MNIST_SHAPE = (28, 28)
MNIST_PIXELS = 28 * 28
_SUPPORTED = "bool, uint8, uint16, integers 0..255, or float 0..1 / 0..255"
# Float values this far outside 0..1 / 0..255 are rounding noise (e.g. from a resize), not data.
_FLOAT_SLACK = 1e-3
_BIT_DEPTHS = (8, 10, 12, 14, 16)
# Formats that may carry an alpha channel, known by their first bytes whatever the file's
# name (PNG, GIF, TIFF; WebP below), are decoded unchanged (alpha and bit depth kept). Others
# keep their bit depth and colour: a JPEG follows its EXIF orientation, which OpenCV ignores
# when it decodes unchanged, and a 32-bit BMP's fourth byte, often unused and zero, is no
# transparency.
_GIF_STARTS = (b"GIF87a", b"GIF89a")
_ALPHA_FORMAT_STARTS = (b"\x89PNG\r\n\x1a\n", *_GIF_STARTS, b"II*\x00", b"MM\x00*")
# cv::utils::logging::LOG_LEVEL_ERROR; OpenCV before 4.13 exposes the level only as a number.
_OPENCV_LOG_LEVEL_ERROR = 2


def require_opencv() -> ModuleType:
    """Return the ``cv2`` module, or raise a clear error on an install without OpenCV."""
    try:
        import cv2
    except ModuleNotFoundError as exc:
        from runtime import install_hints

        raise DigitKitError(
            f"this needs OpenCV, which is not installed: {install_hints.opencv()}; "
            "classifying 28x28 MNIST-form arrays does not need it"
        ) from exc
    except ImportError as exc:  # installed but broken, e.g. built for another NumPy
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DigitKitError(f"OpenCV is installed but does not import: {detail}") from exc
    return cv2


def quiet_opencv_logs() -> None:
    """Show only OpenCV's errors (its warnings repeat the kit's clearer messages), on every
    version, and none of FFmpeg's (the kit says what failed in a video or stream).

    OpenCV 4.13 moved the call to ``cv2.utils.logging.setLogLevel`` and dropped
    ``cv2.setLogLevel``; 4.6-4.12 (Debian Bookworm ships 4.6) have only the latter.
    """
    # FFmpeg's own log ("[mov,mp4 @ 0x...] moov atom not found") goes straight to stderr;
    # OpenCV's FFmpeg backend reads this level when it first opens a video (AV_LOG_QUIET).
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2 = require_opencv()
    logging_module = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_module is not None and hasattr(logging_module, "setLogLevel"):
        logging_module.setLogLevel(logging_module.LOG_LEVEL_ERROR)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(_OPENCV_LOG_LEVEL_ERROR)


# JPEG markers without a length: a fill byte, a stuffed 0x00 in coded data, TEM, restarts.
_STANDALONE_JPEG_MARKERS = frozenset({0xFF, 0x00, 0x01, *range(0xD0, 0xD8)})


def read_image_file(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file's pixels for this module's converters: bit depth, colour and alpha kept
    (a 12-bit PNG or a digit on a transparent background read as they look).

    Raises ``ImageError`` naming the file when it is missing, a directory or not an image
    OpenCV can decode.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image file")
    if not path.is_file():
        what = "not a regular file (a device or pipe)" if path.exists() else "no such file"
        raise ImageError(f"{path}: {what}")
    cv2 = require_opencv()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    if not data:
        raise ImageError(f"{path}: the file is empty (0 bytes), not an image")
    if data.startswith(_ALPHA_FORMAT_STARTS) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        flags = cv2.IMREAD_UNCHANGED
    else:
        flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    if is_truncated_jpeg(data):
        raise ImageError(f"{path}: the JPEG file is cut short (it ends before its image data does)")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        if "MAX_IMAGE_PIXELS" in str(exc):
            reason = (
                "its header claims more pixels than OpenCV decodes (OPENCV_IO_MAX_IMAGE_PIXELS)"
            )
        else:
            reason = getattr(exc, "err", None) or "the decoder failed"
        raise ImageError(f"{path}: not an image OpenCV can decode: {reason}") from exc
    if image is None or not image.size:
        knows_format = getattr(cv2, "haveImageReader", None)  # where the bindings have it
        if data.startswith(_GIF_STARTS) and knows_format and not knows_format(str(path)):
            raise ImageError(f"{path}: a GIF, which OpenCV {cv2.__version__} does not decode")
        raise ImageError(f"{path}: not an image file OpenCV can decode")
    return image


def is_truncated_jpeg(data: bytes) -> bool:
    """Is ``data`` a JPEG file that ends before its end-of-image marker?

    By hand because no decoder at hand reports it: OpenCV decodes a cut-short JPEG with only
    libjpeg's warning on stderr, the missing rows filled grey, and the reading goes on wrong.
    The walk follows the markers: segments are skipped by their length (an embedded thumbnail
    with them), and in a scan's coded data a 0xFF byte is followed only by 0x00 or a restart
    marker, so the first end-of-image marker found is the file's own (a vendor's trailer may
    follow it).
    """
    if not data.startswith(b"\xff\xd8"):
        return False
    position = 2
    while True:
        position = data.find(b"\xff", position)
        if position == -1 or position + 1 >= len(data):
            return True
        marker = data[position + 1]
        if marker == 0xD9:
            return False
        if marker in _STANDALONE_JPEG_MARKERS:
            position += 1 if marker == 0xFF else 2
        elif position + 4 > len(data):
            return True
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")


def validated_array(image: Any, what: str = "image") -> np.ndarray:
    """``image`` as an ndarray of a supported shape and dtype with finite values, else ``ImageError``."""
    if isinstance(image, str | bytes | os.PathLike):
        raise ImageError(
            f"{what} must be a pixel array, not a path or bytes; read files with cv2.imread"
        )
    if image is None:
        raise ImageError(
            f"{what} is None, not a pixel array (cv2.imread returns None for a file it cannot "
            "read: check its path)"
        )
    if type(image) is not np.ndarray:  # lists, and subclasses such as np.matrix (always 2-D)
        try:
            image = np.asarray(image)
        except (TypeError, ValueError) as exc:
            raise ImageError(f"{what} is not a rectangular array of pixels") from exc
    if image.size == 0:
        raise ImageError(f"{what} is empty (shape {image.shape})")
    if image.ndim not in (2, 3):
        raise ImageError(
            f"{what} must be 2-D grayscale (H, W) or 3-D color (H, W, C); got shape {image.shape}"
        )
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        batch_hint = (
            "; a batch of MNIST-form digits (N, 28, 28) goes to predict_batch or predict_proba"
            if image.shape[1:] == MNIST_SHAPE
            else ""
        )
        raise ImageError(
            f"a color {what} must have 1, 3 (BGR) or 4 (BGRA) channels; got shape "
            f"{image.shape}{batch_hint}"
        )
    return _checked_values(image, what)


def _checked_values(array: np.ndarray, what: str) -> np.ndarray:
    """``array`` with a supported dtype, in native byte order, and finite, else ``ImageError``."""
    if array.dtype.kind not in "buif":
        raise ImageError(f"{what} has unsupported dtype {array.dtype}: use {_SUPPORTED}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ImageError(f"{what} contains NaN or infinite values")
    if not array.dtype.isnative:  # big-endian 16-bit samples, as from a FITS or PGM reader
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def to_u8(image: np.ndarray, what: str = "image") -> np.ndarray:
    """A validated array as uint8 by the module's policy, channels kept."""
    kind = image.dtype
    if kind == np.uint8:
        return image
    if kind == np.bool_:
        return image.astype(np.uint8) * np.uint8(255)
    high = image.max()
    if kind == np.uint16:
        depth = next(bits for bits in _BIT_DEPTHS if high < 2**bits)
        if depth == 8:
            return image.astype(np.uint8)
        return _rounded_u8(image, 255.0 / (2**depth - 1))
    low = image.min()
    if kind.kind in "ui":
        if low < 0 or high > 255:
            raise ImageError(
                f"{what} has {kind} values {low}..{high}; integer images other than uint16 "
                "must hold 0..255 (8-bit) values"
            )
        return image.astype(np.uint8)
    _check_float_range(low, high, what)
    return _rounded_u8(image, 255.0 if _unit_range(high) else 1.0)


def _unit_range(high: Any) -> Any:
    """Whether float images whose maximum is ``high`` hold 0..1 values (rounding noise above 1,
    as from a normalisation or resize, included; they are clipped to 1)."""
    return high <= 1.0 + _FLOAT_SLACK


def _check_float_range(low: float, high: float, what: str) -> None:
    if low < -_FLOAT_SLACK or high > 255.0 + _FLOAT_SLACK:
        raise ImageError(
            f"{what} has float values {float(low):g}..{float(high):g}; float images must lie in "
            "0..1 or 0..255"
        )


def _rounded_u8(values: np.ndarray, scale: float) -> np.ndarray:
    scaled = values.astype(np.float32) * np.float32(scale)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def as_gray_u8(image: Any, what: str = "image") -> np.ndarray:
    """``image`` as a C-contiguous 2-D uint8 grayscale array (the module's policy).

    BGR(A) is converted with OpenCV's luma weights; transparent BGRA pixels are composited
    over a background that contrasts with the opaque ink.
    """
    arr = validated_array(image, what)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    u8 = to_u8(arr, what)
    if u8.ndim == 2:
        return np.ascontiguousarray(u8)
    cv2 = require_opencv()
    if u8.shape[2] == 4:
        return _composite_alpha(u8)
    return cv2.cvtColor(np.ascontiguousarray(u8), cv2.COLOR_BGR2GRAY)


def as_bgr_u8(image: Any, what: str = "image") -> np.ndarray:
    """A new uint8 BGR copy of ``image`` (the module's policy), to draw on or save."""
    cv2 = require_opencv()
    arr = validated_array(image, what)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    u8 = np.ascontiguousarray(to_u8(arr, what))
    if u8.ndim == 2:
        return cv2.cvtColor(u8, cv2.COLOR_GRAY2BGR)
    if u8.shape[2] == 4:
        return cv2.cvtColor(u8, cv2.COLOR_BGRA2BGR)
    return u8.copy()


def is_mnist_batch(array: np.ndarray) -> bool:
    """Is ``array`` shaped like a batch of MNIST-form images, ``(N, 28, 28)``, ``(N, 28, 28,
    1)`` (one channel, as Keras often holds them) or ``(N, 784)``?"""
    return (
        (array.ndim == 3 and array.shape[1:] == MNIST_SHAPE)
        or (array.ndim == 4 and array.shape[1:] == (*MNIST_SHAPE, 1))
        or (array.ndim == 2 and array.shape[1] == MNIST_PIXELS)
    )


def light_ground(pixels: np.ndarray) -> np.ndarray:
    """Per uint8 28x28 image of ``pixels`` (``(28, 28)`` or ``(N, 28, 28)``): is its border
    light on average? MNIST form is light ink on black, its border empty; a 28x28 image on a
    light ground is a dark digit cut from paper (or drawn on white), to be read as a photo."""
    lead = pixels.shape[:-2]
    rows = pixels[..., [0, -1], :].reshape(*lead, 2 * pixels.shape[-1])
    columns = pixels[..., 1:-1, [0, -1]].reshape(*lead, 2 * (pixels.shape[-2] - 2))
    border = np.concatenate([rows, columns], axis=-1)
    return border.mean(axis=-1) >= 128


def mnist_batch_u8(batch: Any, what: str = "batch") -> np.ndarray:
    """A batch of MNIST-form images as uint8 ``(N, 28, 28)`` / ``(N, 784)`` (NumPy only).

    Pixel values follow the module's policy (floats 0..1 or 0..255, integers 0..255, ...).
    """
    if type(batch) is np.ndarray and batch.dtype == np.uint8 and is_mnist_batch(batch):
        return batch
    if isinstance(batch, str | bytes | os.PathLike):
        raise ImageError(f"{what} must be a pixel array, not a path or bytes")
    try:
        array = np.asarray(batch)
    except (TypeError, ValueError) as exc:
        raise ImageError(f"{what} is not a rectangular array of pixels") from exc
    if array.shape == (0,):  # an empty list of crops: no images, as predict_batch reads it
        return np.zeros((0, *MNIST_SHAPE), np.uint8)
    if not is_mnist_batch(array):
        raise ImageError(
            f"{what} has shape {array.shape}; MNIST-form batches are (N, 28, 28), "
            "(N, 28, 28, 1) or (N, 784)"
        )
    if array.ndim == 4:
        array = array[..., 0]
    if array.size == 0:
        return np.zeros(array.shape, np.uint8)
    array = _checked_values(array, what)
    if array.dtype.kind == "f" or array.dtype == np.uint16:
        # Each image's own scale (0..1 or 0..255; a uint16 image's bit depth), as ``predict``
        # decides it for one image: a batch mixing scales reads each image as it would alone.
        wide = array.reshape(len(array), -1)
        if array.dtype.kind == "f":
            highs = wide.max(axis=1)
            _check_float_range(wide.min(), highs.max(), what)
            scale = np.where(_unit_range(highs), 255.0, 1.0).astype(np.float32)
            scaled = array.astype(np.float32) * scale.reshape(-1, *[1] * (array.ndim - 1))
            return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.stack([to_u8(image, what) for image in array])
    return to_u8(array, what)


def _composite_alpha(bgra: np.ndarray) -> np.ndarray:
    cv2 = require_opencv()
    gray = cv2.cvtColor(np.ascontiguousarray(bgra), cv2.COLOR_BGRA2GRAY)
    alpha = bgra[:, :, 3].astype(np.float32) / 255.0
    if alpha.min() == 1.0:
        return gray
    opaque = alpha > 0.5
    ink_level = float(gray[opaque].mean()) if opaque.any() else 0.0
    dark_ink = ink_level < 128
    if bgra.shape[:2] == MNIST_SHAPE:
        # A 28x28 picture as it looks: dark ink on white, light ink on black (MNIST form).
        backdrop = 255.0 if dark_ink else 0.0
        mixed = gray.astype(np.float32) * alpha + backdrop * (1.0 - alpha)
        return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    # Any other picture is pen on paper: what is drawn on the transparent sheet is the ink,
    # whatever its colour (light ink by its brightness), dark on white paper.
    strength = 255.0 - gray.astype(np.float32) if dark_ink else gray.astype(np.float32)
    return np.clip(255.0 - strength * alpha + 0.5, 0, 255).astype(np.uint8)


def shrink_step(shape: tuple[int, ...], max_side: int) -> int:
    """The integer step ``shrink`` reduces a picture of ``shape`` by (1: not at all)."""
    return max(1, -(-max(shape[:2]) // max_side))


def shrink(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """Downscale ``gray`` by the smallest integer step that brings its longest side to at
    most ``max_side``; return the image and the step (input pixels per output pixel)."""
    step = shrink_step(gray.shape, max_side)
    return shrink_by(gray, step), step


def shrunk_shape(shape: tuple[int, ...], step: float) -> tuple[int, int]:
    """The (rows, columns) of a picture of ``shape`` reduced by ``step`` (``shrink_by``)."""
    if step == int(step):
        return max(1, shape[0] // int(step)), max(1, shape[1] // int(step))
    return max(1, round(shape[0] / step)), max(1, round(shape[1] / step))


def shrink_scale(shape: tuple[int, ...], step: float) -> tuple[float, float]:
    """Pixels of a picture of ``shape`` per pixel of its copy reduced by ``step`` (``shrink_by``),
    (rows, columns): the step itself for an integer one, whose copy drops the last rows and
    columns, else the copy's own ratio of sides, which are rounded."""
    if step == int(step):
        return float(step), float(step)
    rows, cols = shrunk_shape(shape, step)
    return shape[0] / rows, shape[1] / cols


def shrink_by(gray: np.ndarray, step: float) -> np.ndarray:
    """Downscale ``gray`` by ``step`` input pixels per output pixel (1: not at all).

    An integer step keeps OpenCV's INTER_AREA on its fast path (a plain block average, ~20x
    faster than a fractional one; the last ``step - 1`` rows/columns may be dropped); a
    fractional one (1.6) leaves 2.56 times fewer pixels than the next integer down (1) would.
    """
    cv2 = require_opencv()  # first: a missing OpenCV is named even where nothing is reduced
    if step <= 1:
        return gray
    rows, cols = shrunk_shape(gray.shape, step)
    if step == int(step):
        gray = gray[: rows * int(step), : cols * int(step)]
    return cv2.resize(gray, (cols, rows), interpolation=cv2.INTER_AREA)
