"""The network is exactly the notebook's MLP."""

from __future__ import annotations

import numpy as np

from train.model import EXPECTED_PARAMS, build_model


def test_parameter_count_and_layer_shapes():
    model = build_model()
    assert model.count_params() == EXPECTED_PARAMS == 669_706
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [tuple(layer.kernel.shape) for layer in dense] == [(784, 512), (512, 512), (512, 10)]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "softmax"]
    assert tuple(model.input_shape) == (None, 28, 28)
    assert tuple(model.output_shape) == (None, 10)


def test_dropout_only_changes_training():
    with_dropout, plain = build_model(dropout=0.3), build_model()
    assert with_dropout.count_params() == plain.count_params()
    plain.set_weights(with_dropout.get_weights())
    x = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(with_dropout(x, training=False), plain(x), rtol=1e-6)
    probabilities = plain(x).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
