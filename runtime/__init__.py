"""Device runtime: classify handwritten digits with a TFLite model. Never imports TensorFlow.

    from runtime import DigitClassifier, read_number
    clf = DigitClassifier("model_int8.tflite")
    clf.predict(image28x28).digit

Names are loaded lazily so ``import runtime`` stays fast and pulls OpenCV only when
image preprocessing is used.
"""

from __future__ import annotations

from runtime.lazy import lazy_exports

_EXPORTS = {
    "DigitClassifier": "runtime.classifier",
    "Prediction": "runtime.classifier",
    "available_backends": "runtime.backends",
    "find_digits": "runtime.segment",
    "read_number": "runtime.segment",
    "DigitRegion": "runtime.segment",
    "NumberReading": "runtime.segment",
    "ModelMetadata": "runtime.metadata",
    "read_metadata": "runtime.model_file",
    "load_model": "runtime.model_file",
    "DigitKitError": "runtime.errors",
    "ModelFormatError": "runtime.errors",
    "MetadataMismatchError": "runtime.errors",
    "UnsupportedOpError": "runtime.errors",
    "BackendUnavailableError": "runtime.errors",
    "ImageError": "runtime.errors",
    "NoDigitFoundError": "runtime.errors",
}

__all__ = sorted([*_EXPORTS, "preprocess"])


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

# Bound now (it needs only NumPy): the function shares its name with its module, and a lazy
# name would be replaced by the module as soon as anything imported runtime.preprocess.
from runtime.preprocess import preprocess as preprocess  # noqa: E402
