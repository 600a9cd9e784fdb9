"""Load the Keras model to convert; anything that is not one gets a clear ``ModelFormatError``."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from runtime.errors import DigitKitError, ModelFormatError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
TRAINING_REPORT = "metrics.json"
KERAS_ARCHIVE_MEMBERS = ("config.json", "model.weights.h5")
EXPECTED_INPUT_SHAPE = (None, 28, 28)
EXPECTED_OUTPUT_SHAPE = (None, 10)
# Other layouts of the same pixels, fed through a Reshape so that every file takes (N, 28, 28)
IMAGE_LAYOUTS = ((None, 28, 28, 1), (None, 784))
LAYOUT_LAYER = "digit_kit_image_layout"


def check_keras_file(path: str | os.PathLike[str]) -> Path:
    """Check ``path`` looks like a native Keras 3 ``.keras`` archive without importing Keras."""
    path = Path(path)
    if not path.exists():
        raise ModelFormatError(f"Keras model {path} does not exist")
    if not path.is_file():
        raise ModelFormatError(f"Keras model {path} is not a file")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head == HDF5_SIGNATURE:
        raise ModelFormatError(
            f"{path} is an HDF5 (legacy Keras .h5) file; digit-convert takes native .keras files: "
            "load it in Keras and re-save it with model.save('model.keras')"
        )
    if not zipfile.is_zipfile(path):
        if head.startswith(ZIP_SIGNATURE):  # a zip whose end (its directory) is missing
            raise ModelFormatError(
                f"{path} is a zip archive cut short (its end is missing): copy or download "
                "the .keras file again"
            )
        raise ModelFormatError(
            f"{path} is not a Keras model: a .keras file is a zip archive, "
            f"this one starts with {head!r}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFormatError(f"{path} is a damaged zip archive: {exc}") from exc
    missing = [name for name in KERAS_ARCHIVE_MEMBERS if name not in members]
    if missing:
        raise ModelFormatError(
            f"{path} is a zip archive but not a Keras model (no {', '.join(missing)} inside)"
        )
    if path.suffix != ".keras":
        raise ModelFormatError(
            f"{path} holds a Keras model but Keras only loads it under a .keras name"
        )
    return path


def load_keras_model(path: str | os.PathLike[str]):
    """Load a ``.keras`` model taking (N, 28, 28) images and returning (N, 10) scores; one
    taking (N, 28, 28, 1) or (N, 784) pixels comes wrapped to take (N, 28, 28)."""
    path = check_keras_file(path)
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises whatever its deserializers raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFormatError(f"Keras cannot load {path}: {detail}") from exc
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelFormatError(
            f"{path}: expected one input and one output, "
            f"got {len(model.inputs)} and {len(model.outputs)}"
        )
    input_shape, output_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    accepted = (EXPECTED_INPUT_SHAPE, *IMAGE_LAYOUTS)
    if input_shape not in accepted or output_shape != EXPECTED_OUTPUT_SHAPE:
        layouts = " or ".join(str(shape) for shape in accepted)
        raise ModelFormatError(
            f"{path}: the model maps {input_shape} -> {output_shape}; the kit needs "
            f"{layouts} images -> {EXPECTED_OUTPUT_SHAPE} class scores"
        )
    if input_shape != EXPECTED_INPUT_SHAPE:
        images = keras.Input(shape=EXPECTED_INPUT_SHAPE[1:], name="digit_kit_image")
        pixels = keras.layers.Reshape(input_shape[1:], name=LAYOUT_LAYER)(images)
        model = keras.Model(images, model(pixels), name=model.name)
    return model


def logits_model(model):
    """The same network ending at its last layer's logits: a softmax head is swapped for a
    linear one with the same weights. The runtime applies the softmax in float32, so an int8
    file does not quantize the probabilities to steps of 1/256. A model that already ends in
    a linear layer is returned as it is."""
    import keras

    head = model.layers[-1]
    layers = {layer.name for layer in model.layers}
    if LAYOUT_LAYER in layers and isinstance(head, keras.Model):  # load_keras_model's adapter
        inner = logits_model(head)
        if inner is head:
            return model
        pixels = model.get_layer(LAYOUT_LAYER).output
        return keras.Model(model.inputs, inner(pixels), name=inner.name)
    activation = head.get_config().get("activation")
    if activation in ("linear", None):
        return model
    if activation != "softmax":
        raise ModelFormatError(
            f"the model's last layer {head.name!r} applies {activation!r}; the kit converts "
            "models ending in softmax (or in raw logits)"
        )
    config = head.get_config()
    config["activation"] = "linear"
    linear = type(head).from_config(config)
    outputs = linear(head.input)
    linear.set_weights(head.get_weights())
    return keras.Model(model.inputs, outputs, name=f"{model.name}_logits")


def training_threshold(keras_path: str | os.PathLike[str]) -> float | None:
    """The acceptance threshold ``train`` chose for this very model (``metrics.json`` beside
    it, naming the model's SHA-256), or None when there is no such report."""
    import json

    from train.data import sha256_of

    report = Path(keras_path).with_name(TRAINING_REPORT)
    try:
        metrics = json.loads(report.read_text(encoding="utf-8"))
        threshold = metrics["threshold"]["threshold"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if metrics.get("model_sha256") != sha256_of(Path(keras_path)):
        return None  # the report belongs to another run
    number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
    if not (number and 0.0 <= threshold <= 1.0):
        raise DigitKitError(
            f"{report}: this model's training report gives the threshold {threshold!r}, not a "
            "number from 0 to 1: train again, or move the report away to use the runtime's default"
        )
    return float(threshold)
