"""Convert a trained Keras model to TFLite files and gate them on accuracy parity.

    import convert
    report = convert.convert_model("model.keras", "out/", formats="all", data="/path/to/mnist")
    tflite_bytes = convert.export_tflite(keras_model, "int8", representative=images)

Names are loaded lazily so ``import convert`` does not pull in TensorFlow.
"""

from __future__ import annotations

from runtime.lazy import lazy_exports

_EXPORTS = {
    "FORMATS": "convert.export",
    "ConversionError": "convert.export",
    "export_tflite": "convert.export",
    "stratified_sample": "convert.representative",
    "representative_images": "convert.representative",
    "embed_metadata": "convert.metadata",
    "build_metadata": "convert.metadata",
    "GateThresholds": "convert.parity",
    "KerasReference": "convert.parity",
    "FormatParity": "convert.parity",
    "ParityReport": "convert.parity",
    "keras_reference": "convert.parity",
    "check_parity": "convert.parity",
    "load_keras_model": "convert.source",
    "convert_model": "convert.pipeline",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
