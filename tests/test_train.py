"""Training end to end on real MNIST (a subset), the report it writes, determinism, atomicity."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from runtime.atomic import atomic_path, write_json
from train.cli import _left_behind
from train.cli import main as train_main
from train.recipes import DEFAULT, RECIPES

REPO = Path(__file__).resolve().parents[1]
QUICK = ["--epochs", "1", "--train-limit", "8000", "--quiet"]
# The default recipe with a small judge harvest: its 1,500 synthetic pages take a minute,
# which the pipeline tests here do not need (test_judge covers the harvest).
LIGHT_DEFAULT = dataclasses.replace(DEFAULT, judge_pages=12, threshold_pages=6)


@pytest.fixture(scope="module", autouse=True)
def light_default_recipe():
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(RECIPES, "default", LIGHT_DEFAULT)
        yield


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, mnist_path):
    out = tmp_path_factory.mktemp("quick")
    assert train_main(["--data", str(mnist_path), "--out", str(out), "--seed", "3", *QUICK]) == 0
    return out


def test_quick_default_recipe_learns(quick_run):
    metrics = json.loads((quick_run / "metrics.json").read_text())
    # One augmented epoch on 8k images, spent mostly in LR warm-up, measured 0.85 here:
    # far above chance (0.10); a broken pipeline (labels shuffled, inputs unscaled) stays far below.
    assert metrics["test_accuracy"] > 0.80


def test_outputs_and_metrics_schema(quick_run):
    names = sorted(p.name for p in quick_run.iterdir())
    assert names == ["confusion_matrix.png", "metrics.json", "model.keras", "training_curves.png"]
    for png in ("confusion_matrix.png", "training_curves.png"):
        assert (quick_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["parameters"] == 669_706
    assert metrics["recipe"] == "default" and metrics["seed"] == 3
    assert set(metrics["per_class"]) == {str(d) for d in range(10)}
    for scores in metrics["per_class"].values():
        assert set(scores) == {"precision", "recall", "f1", "support"}
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 10000
    assert np.trace(matrix) / 10000 == pytest.approx(metrics["test_accuracy"])
    assert set(metrics["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(metrics["history"]["loss"]) == metrics["epochs_run"] == 1
    assert metrics["hyperparameters"]["batch_size"] == 256
    assert metrics["versions"]["keras"].startswith("3.")
    assert len(metrics["dataset"]["sha256"]) == 4
    assert metrics["wall_time_s"] > 0
    assert [row["threshold"] for row in metrics["rejection"]] == [0.5, 0.7, 0.9]
    for row in metrics["rejection"]:
        assert set(row) == {
            "threshold",
            "digits_accepted",
            "accuracy_of_accepted",
            "non_digits_rejected",
        }
        assert all(0.0 <= value <= 1.0 for value in row.values())


def test_metrics_record_the_images_a_train_limit_leaves(quick_run):
    """--train-limit 8000 with the default recipe: 6,400 trained on, 1,600 held out, and the
    recipe recorded as it ran, not with its own 6,000."""
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert metrics["train_limit"] == 8000
    assert (metrics["train_size"], metrics["validation_size"]) == (6400, 1600)
    assert metrics["hyperparameters"]["validation_size"] == 1600


def test_train_limit_help_says_the_validation_split_comes_out_of_it(capsys):
    with pytest.raises(SystemExit):
        train_main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--train-limit N train and validate on the first N of MNIST's 60,000" in text
    assert "the validation split comes out of these N" in text


@pytest.mark.parametrize("count", [101, 1001, 8000])
def test_seed_recipe_sizes_are_the_split_keras_makes(count):
    """The seed recipe leaves its split to Keras' validation_split: the sizes reported are the
    batches Keras feeds (with 1,001 images it holds out 201, not int(1001 * 0.2) = 200)."""
    import keras

    from train.fit import keras_split_sizes

    seen: dict[bool, list[int]] = {True: [], False: []}

    class Counter(keras.layers.Layer):
        def call(self, x, training=None):
            if x.shape[0] is not None:  # not the symbolic call that builds the model
                seen[bool(training)].append(int(x.shape[0]))
            return x

    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(Counter()(inputs)))
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    x = np.zeros((count, 1), np.float32)
    model.fit(x, x, batch_size=count, epochs=1, validation_split=0.2, shuffle=False, verbose=0)
    assert keras_split_sizes(count, 0.2) == (sum(seen[True]), sum(seen[False]))


def test_saved_model_reproduces_reported_accuracy(quick_run, mnist):
    import keras

    model = keras.models.load_model(quick_run / "model.keras")
    assert model.count_params() == 669_706
    assert not any("dropout" in layer.name for layer in model.layers)
    predicted = model.predict(mnist.x_test.astype(np.float32) / 255.0, batch_size=2048, verbose=0)
    accuracy = float((predicted.argmax(axis=1) == mnist.y_test).mean())
    reported = json.loads((quick_run / "metrics.json").read_text())["test_accuracy"]
    assert accuracy == pytest.approx(reported, abs=1e-9)


@pytest.mark.slow  # a second training run
def test_same_seed_same_accuracy(quick_run, tmp_path, mnist_path):
    assert (
        train_main(["--data", str(mnist_path), "--out", str(tmp_path), "--seed", "3", *QUICK]) == 0
    )
    first = json.loads((quick_run / "metrics.json").read_text())
    second = json.loads((tmp_path / "metrics.json").read_text())
    assert second["test_accuracy"] == first["test_accuracy"]
    assert second["history"]["loss"] == first["history"]["loss"]


@pytest.mark.slow  # a second training run
def test_seed_recipe_runs(tmp_path, mnist_path):
    args = ["--data", str(mnist_path), "--out", str(tmp_path), "--recipe", "seed", *QUICK]
    assert train_main(args) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["recipe"] == "seed" and metrics["hyperparameters"]["validation_split"] == 0.2
    assert metrics["validation_size"] == 1600 and metrics["train_size"] == 6400
    assert metrics["test_accuracy"] > 0.88


def test_missing_dataset_exits_with_clear_error(tmp_path, capsys):
    assert train_main(["--data", str(tmp_path / "absent"), "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error: MNIST directory" in err and "does not exist" in err
    assert not (tmp_path / "metrics.json").exists()


def test_a_train_limit_beyond_the_training_images_is_refused(tmp_path, capsys, mnist_path):
    args = ["--data", str(mnist_path), "--out", str(tmp_path), "--train-limit", "70000"]
    assert train_main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--train-limit 70000:" in err and "holds only 60000 training images" in err
    assert not list(tmp_path.iterdir())


def test_fit_refuses_a_train_limit_beyond_the_training_images(mnist):
    from runtime.errors import DigitKitError
    from train.fit import fit

    with pytest.raises(DigitKitError, match="holds only 60000 training images"):
        fit(mnist, RECIPES["seed"], train_limit=60_001)


def test_interrupted_write_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"test_accuracy": 0.5})
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text('{"test_accur')
        raise KeyboardInterrupt
    assert json.loads(target.read_text()) == {"test_accuracy": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_failed_model_save_leaves_no_artifact(tmp_path, monkeypatch, mnist):
    import keras

    from train.fit import TrainResult
    from train.model import build_model
    from train.recipes import SEED
    from train.report import write_report

    def crash(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", crash)
    result = TrainResult(build_model(), {"loss": [1.0]}, SEED, 0, 1.0, None, 1, 1)
    with pytest.raises(OSError, match="disk full"):
        write_report(result, mnist, tmp_path)
    assert list(tmp_path.iterdir()) == []
    # Over an earlier run (--overwrite): its metrics.json goes before the first new file, so
    # the folder of the earlier run's plots and no model cannot pass for a complete run.
    for name in ("metrics.json", "confusion_matrix.png"):
        (tmp_path / name).write_text("the earlier run")
    with pytest.raises(OSError, match="disk full"):
        write_report(result, mnist, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["confusion_matrix.png"]
    assert "incomplete (confusion_matrix.png, no metrics.json)" in _left_behind(tmp_path)
    (tmp_path / "metrics.json").write_text("{}")
    assert _left_behind(tmp_path).endswith("still holds the earlier run")
    assert _left_behind(tmp_path / "empty") == "no run was written"


@pytest.mark.slow  # a training run (4 short epochs)
def test_kept_weights_have_the_lowest_validation_loss(mnist):
    """The kept epoch is the one of lowest validation loss (accuracy ties across epochs), and
    the weights kept are that epoch's (or an average scoring at least as well)."""
    from train.fit import best_epoch_of, fit, stratified_holdout, to_inputs

    recipe = dataclasses.replace(LIGHT_DEFAULT, epochs=4, judge_pages=0, threshold_pages=0)
    limit = 6000
    result = fit(mnist, recipe, seed=5, verbose=0, train_limit=limit)
    losses = result.history["val_loss"]
    size = min(recipe.validation_size, limit // 5)
    _, x_val, _, y_val = stratified_holdout(
        mnist.x_train[:limit], mnist.y_train[:limit], size, seed=5
    )
    import keras

    probabilities = result.model.predict(to_inputs(x_val), batch_size=2048, verbose=0)
    truth = keras.utils.to_categorical(y_val, probabilities.shape[1])
    kept_loss = float(np.mean(keras.losses.categorical_crossentropy(truth, probabilities)))
    assert result.best_epoch == best_epoch_of(result.history)
    assert kept_loss <= min(losses) + 1e-4
    if result.selected_weights.startswith("best checkpoint"):
        assert kept_loss == pytest.approx(losses[result.best_epoch - 1], abs=1e-4)


def test_best_epoch_is_the_lowest_validation_loss_not_the_first_best_accuracy():
    from train.fit import best_epoch_of

    # Accuracy on a few thousand images ties across late epochs; its first maximum (epoch 2)
    # is not where the model is best. The loss tells them apart.
    history = {"val_accuracy": [0.95, 0.96, 0.96, 0.96], "val_loss": [0.30, 0.20, 0.22, 0.15]}
    assert best_epoch_of(history) == 4
