"""Frame format normalization: any camera, video or image frame to 8-bit gray or 8-bit BGR.

Sources deliver gray, BGR or BGRA frames, in 8 or 16 bits (or float from some image files).
Deeper frames are stretched to their own min..max so a 10/12-bit sensor's data stored in a
16-bit container is not left nearly black.
"""

from __future__ import annotations

import numpy as np

from runtime.errors import ImageError


def _check(frame: np.ndarray) -> np.ndarray:
    array = np.asarray(frame)
    if array.size == 0:
        raise ImageError(f"empty frame (shape {array.shape})")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(
            f"unsupported frame shape {array.shape}: expected HxW gray, HxWx3 BGR or HxWx4 BGRA"
        )
    if array.dtype.kind not in "buif":
        raise ImageError(f"unsupported frame dtype {array.dtype}")
    return array


def _to_uint8(array: np.ndarray) -> np.ndarray:
    import cv2

    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    values = np.nan_to_num(array.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    return cv2.normalize(values, None, 0, 255, cv2.NORM_MINMAX, dtype=cv2.CV_8U)


def to_gray8(frame: np.ndarray) -> np.ndarray:
    """Return ``frame`` as a contiguous 2-D uint8 gray image; raise ``ImageError`` if it is no image."""
    import cv2

    array = _to_uint8(_check(frame))
    if array.ndim == 3:
        code = cv2.COLOR_BGR2GRAY if array.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        array = cv2.cvtColor(array, code)
    return np.ascontiguousarray(array)


def to_bgr8(frame: np.ndarray) -> np.ndarray:
    """Return a new uint8 BGR copy of ``frame`` to draw on or save."""
    import cv2

    array = _to_uint8(_check(frame))
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    return array.copy()
