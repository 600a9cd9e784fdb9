"""The network the devices run: the original notebook's MLP, unchanged at inference."""

from __future__ import annotations

import keras

INPUT_SHAPE = (28, 28)
NUM_CLASSES = 10
HIDDEN_UNITS = 512
EXPECTED_PARAMS = 669_706


def build_model(dropout: float = 0.0, name: str = "mnist_mlp") -> keras.Model:
    """Flatten 28x28 -> Dense 512 ReLU -> Dense 512 ReLU -> Dense 10 softmax (669,706 parameters).

    Inputs are float pixels in 0..1, white digit on black (the MNIST form). ``dropout`` adds
    Dropout after each hidden layer for training only; the inference graph is unchanged.
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for index in (1, 2):
        x = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name=f"dense_{index}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=name)
    if model.count_params() != EXPECTED_PARAMS:
        raise RuntimeError(
            f"the network has {model.count_params():,} parameters, not the {EXPECTED_PARAMS:,} "
            "the devices run: the architecture was changed"
        )
    return model
