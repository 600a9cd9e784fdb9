"""Fit the MLP with a recipe: deterministic, with augmentation, LR schedule and best checkpoint."""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from sklearn.model_selection import train_test_split

from train.augment import AugmentConfig, augment_batch
from train.data import MnistData
from train.judge_data import JudgeExamples, harvest
from train.model import NUM_CLASSES, build_model
from train.outliers import render_outliers, uniform_targets
from train.recipes import Recipe
from train.threshold import PAGE_SEED_OFFSET, ThresholdChoice, choose_threshold

STEPS_PER_EXECUTION = 16


@dataclass
class TrainResult:
    """A fitted model with what is needed to report on it.

    ``recipe`` is the recipe as it ran: its ``validation_size`` is the number of images held
    out, fewer than the recipe's own with ``train_limit`` (at most a fifth of them).
    ``train_size`` and ``validation_size`` count the images trained on and validated on.
    """

    model: keras.Model
    history: dict[str, list[float]]
    recipe: Recipe
    seed: int
    wall_time_s: float
    best_epoch: int | None
    train_size: int
    validation_size: int
    selected_weights: str = "last epoch"
    validation_accuracy: float | None = None
    threshold: ThresholdChoice | None = None
    judge_examples: dict[str, int] | None = None
    train_limit: int | None = None


class WeightAverage(keras.callbacks.Callback):
    """Running mean of the weights at the end of each epoch from ``start_epoch`` (1-based) on.

    Averaging the late, low-learning-rate epochs (as in stochastic weight averaging) lands
    in a flatter region than any single epoch; Keras has no built-in callback for it.
    """

    def __init__(self, start_epoch: int):
        super().__init__()
        self.start_epoch = start_epoch
        self._sum: list[np.ndarray] | None = None
        self.count = 0

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch + 1 < self.start_epoch:
            return
        weights = [w.astype(np.float64) for w in self.model.get_weights()]
        self._sum = (
            weights
            if self._sum is None
            else [a + b for a, b in zip(self._sum, weights, strict=True)]
        )
        self.count += 1

    def average(self) -> list[np.ndarray] | None:
        """The mean weights, or ``None`` if no epoch was averaged yet."""
        if self._sum is None:
            return None
        return [(w / self.count).astype(np.float32) for w in self._sum]


def to_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 pixels (N, 28, 28) -> float32 in 0..1, the model's input."""
    return images.astype(np.float32) / 255.0


def configure_determinism(seed: int) -> None:
    """Seed Python, NumPy and TF and make TF ops deterministic (same seed -> same model)."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def stratified_holdout(x: np.ndarray, y: np.ndarray, size: int, seed: int):
    """Split off ``size`` validation images with the class balance of ``y``."""
    return train_test_split(x, y, test_size=size, stratify=y, random_state=seed)


def keras_split_sizes(count: int, fraction: float) -> tuple[int, int]:
    """(training, validation) image counts of Keras' ``validation_split=fraction`` on ``count``
    images, rounded as Keras rounds them: it trains on the first floor(count * (1 - fraction))."""
    train = math.floor(count * (1.0 - fraction))
    return train, count - train


def validation_holdout(x: np.ndarray, y: np.ndarray, recipe: Recipe, seed: int):
    """The split ``fit`` trains with: (x_fit, x_val, y_fit, y_val), ``recipe.validation_size``
    images held out (at most a fifth)."""
    size = min(recipe.validation_size, len(x) // 5)
    return stratified_holdout(x, y, size, seed)


class AugmentedEpochs:
    """Freshly augmented copies of the training set, one per epoch, prepared one epoch ahead
    in a thread while Keras trains on the current one.

    Epoch ``e`` draws from ``np.random.default_rng([seed, e])``, so the stream is the same
    for a given seed whatever the thread timing. (Whole-epoch arrays instead of a
    ``keras.utils.PyDataset``: the generator path costs ~6x more per step on this MLP.)
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        cfg: AugmentConfig,
        seed: int,
        outlier_fraction: float,
        judge: JudgeExamples | None = None,
        judge_negatives: float = 0.0,
        judge_positives: float = 0.0,
    ):
        self._x, self._y, self._cfg, self._seed = x, y, cfg, seed
        self._outliers = round(len(x) * outlier_fraction)
        self._judge = judge
        has_negatives = judge is not None and len(judge.negatives)
        has_positives = judge is not None and len(judge.positives)
        self._judge_negatives = round(len(x) * judge_negatives) if has_negatives else 0
        self._judge_positives = round(len(x) * judge_positives) if has_positives else 0
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: dict[int, Future] = {}

    def _prepare(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self._seed, epoch])
        order = rng.permutation(len(self._x))
        parts = [augment_batch(self._x[order], rng, self._cfg)]
        targets = [keras.utils.to_categorical(self._y[order], NUM_CLASSES)]
        if self._outliers:
            parts.append(augment_batch(render_outliers(self._outliers, rng), rng, self._cfg))
            targets.append(uniform_targets(self._outliers, NUM_CLASSES))
        if self._judge_negatives:
            chosen = rng.integers(len(self._judge.negatives), size=self._judge_negatives)
            parts.append(augment_batch(self._judge.negatives[chosen], rng, self._cfg))
            targets.append(uniform_targets(len(chosen), NUM_CLASSES))
        if self._judge_positives:
            chosen = rng.integers(len(self._judge.positives), size=self._judge_positives)
            parts.append(augment_batch(self._judge.positives[chosen], rng, self._cfg))
            targets.append(keras.utils.to_categorical(self._judge.labels[chosen], NUM_CLASSES))
        images, targets = np.concatenate(parts), np.concatenate(targets)
        if len(parts) > 1:
            mixed = rng.permutation(len(images))
            images, targets = images[mixed], targets[mixed]
        return to_inputs(images), targets

    def epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The augmented (inputs, one-hot targets) of ``epoch``; starts preparing the next one."""
        future = self._pending.pop(epoch, None) or self._pool.submit(self._prepare, epoch)
        self._pending[epoch + 1] = self._pool.submit(self._prepare, epoch + 1)
        return future.result()

    def close(self) -> None:
        """Stop the prefetch thread."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _optimizer(recipe: Recipe, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    if not recipe.cosine_schedule:
        return keras.optimizers.Adam(learning_rate=recipe.learning_rate)
    warmup = recipe.warmup_epochs * steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=recipe.learning_rate * 0.1,
        warmup_target=recipe.learning_rate,
        warmup_steps=warmup,
        decay_steps=max(1, recipe.epochs * steps_per_epoch - warmup),
        alpha=recipe.final_lr_fraction,
    )
    return keras.optimizers.Adam(learning_rate=schedule)


def _fit_augmented(
    model: keras.Model,
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    recipe: Recipe,
    seed: int,
    callbacks: list[keras.callbacks.Callback],
    verbose: str | int,
    judge: JudgeExamples | None = None,
) -> dict[str, list[float]]:
    """One ``model.fit`` call per epoch on that epoch's augmented arrays; returns the history."""
    epochs = AugmentedEpochs(
        x_fit,
        y_fit,
        recipe.augment or AugmentConfig(),
        seed,
        recipe.outlier_fraction,
        judge,
        recipe.judge_negatives,
        recipe.judge_positives,
    )
    history: dict[str, list[float]] = {}
    # Keras would print "Epoch 1/1" for each single-epoch call: show one bar over all epochs
    # (interactive), or one plain line per epoch (verbose=2, for logs).
    progress = keras.utils.Progbar(
        recipe.epochs,
        unit_name="epoch",
        verbose=1 if verbose in (1, "auto") else 0,
        stateful_metrics=["loss", "accuracy", "val_loss", "val_accuracy"],
    )
    try:
        for epoch in range(recipe.epochs):
            x_epoch, y_epoch = epochs.epoch(epoch)
            result = model.fit(
                x_epoch,
                y_epoch,
                batch_size=recipe.batch_size,
                epochs=epoch + 1,
                initial_epoch=epoch,
                validation_data=validation,
                shuffle=False,
                callbacks=callbacks,
                verbose=0,
            )
            for key, values in result.history.items():
                history.setdefault(key, []).extend(values)
            latest = {key: values[-1] for key, values in result.history.items()}
            progress.update(epoch + 1, list(latest.items()), finalize=False)
            if verbose == 2:
                summary = " - ".join(f"{key}: {value:.4f}" for key, value in latest.items())
                print(f"epoch {epoch + 1}/{recipe.epochs} - {summary}", flush=True)
    finally:
        epochs.close()
    return history


# The best checkpoint's score, minimised. The loss, not the accuracy: on 6,000 images accuracy
# moves in steps of one image and ties across late epochs, so its first maximum was often a
# mid-schedule epoch; the loss is a finer, proper score of the same data.
CHECKPOINT_MONITOR = "val_loss"


def best_epoch_of(history: dict[str, list[float]]) -> int:
    """The 1-based epoch whose weights the best checkpoint keeps: the lowest
    ``CHECKPOINT_MONITOR`` (the first of equals), as ``ModelCheckpoint`` saves them."""
    return int(np.argmin(history[CHECKPOINT_MONITOR])) + 1


def fit(
    data: MnistData,
    recipe: Recipe,
    seed: int = 0,
    verbose: str | int = "auto",
    train_limit: int | None = None,
) -> TrainResult:
    """Train a fresh model on ``data`` with ``recipe``. ``train_limit`` takes the first N
    training images only, the validation split's included (quick runs, tests)."""
    configure_determinism(seed)
    x_all, y_all = data.first_training(train_limit)
    model = build_model(dropout=recipe.dropout)
    started = time.perf_counter()
    callbacks: list[keras.callbacks.Callback] = []
    with tempfile.TemporaryDirectory(prefix="digit-kit-ckpt-") as scratch:
        if recipe.validation_size:
            x_fit, x_val, y_fit, y_val = validation_holdout(x_all, y_all, recipe, seed)
            validation = (to_inputs(x_val), keras.utils.to_categorical(y_val, NUM_CLASSES))
            train_size, val_size = len(x_fit), len(x_val)
        else:
            x_fit, y_fit, validation = x_all, y_all, None
            train_size, val_size = keras_split_sizes(len(x_all), recipe.validation_split)
        steps_per_epoch = math.ceil(train_size / recipe.batch_size)
        model.compile(
            optimizer=_optimizer(recipe, steps_per_epoch),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
            # several steps per graph call: the per-step Python overhead rivals this small MLP's math
            steps_per_execution=STEPS_PER_EXECUTION,
        )
        checkpoint = Path(scratch) / "best.weights.h5"
        if recipe.best_checkpoint:
            callbacks.append(
                keras.callbacks.ModelCheckpoint(
                    checkpoint,
                    monitor=CHECKPOINT_MONITOR,
                    mode="min",
                    save_best_only=True,
                    save_weights_only=True,
                )
            )
        averager = None
        if recipe.average_last_fraction > 0 and validation is not None:
            first = max(1, recipe.epochs - round(recipe.epochs * recipe.average_last_fraction) + 1)
            averager = WeightAverage(first)
            callbacks.append(averager)
        judge = None
        if recipe.judge_pages:
            # The reader's candidates on pages of the training split's digits only.
            judge = harvest(recipe.judge_pages, seed, x_fit, y_fit)
        if recipe.augment is not None:
            history = _fit_augmented(
                model, x_fit, y_fit, validation, recipe, seed, callbacks, verbose, judge
            )
        else:
            history = model.fit(
                to_inputs(x_fit),
                keras.utils.to_categorical(y_fit, NUM_CLASSES),
                epochs=recipe.epochs,
                batch_size=recipe.batch_size,
                validation_split=recipe.validation_split,
                validation_data=validation,
                shuffle=True,
                callbacks=callbacks,
                verbose=verbose,
            ).history
        best_epoch, selected, val_accuracy, val_loss = None, "last epoch", None, None
        if recipe.best_checkpoint and checkpoint.exists():
            model.load_weights(checkpoint)
            best_epoch = best_epoch_of(history)
            selected = f"best checkpoint (epoch {best_epoch})"
            val_loss = history[CHECKPOINT_MONITOR][best_epoch - 1]
            val_accuracy = history["val_accuracy"][best_epoch - 1]
        if averager is not None and averager.average() is not None:
            # Keep whichever the validation split prefers (lower loss): never the test set.
            kept = model.get_weights()
            model.set_weights(averager.average())
            averaged_loss, averaged_accuracy = (
                float(v) for v in model.evaluate(*validation, batch_size=2048, verbose=0)[:2]
            )
            if val_loss is None or averaged_loss <= val_loss:
                selected = f"average of epochs {averager.start_epoch}-{recipe.epochs}"
                val_accuracy = averaged_accuracy
            else:
                model.set_weights(kept)
    # The deployed model carries no Dropout: rebuild the plain inference graph with the weights.
    inference = build_model(dropout=0.0)
    inference.set_weights(model.get_weights())  # left uncompiled: model.keras carries no optimizer
    threshold = None
    if recipe.threshold_pages and validation is not None:
        threshold = choose_threshold(
            inference, recipe.threshold_pages, seed + PAGE_SEED_OFFSET, x_val, y_val
        )
    wall = time.perf_counter() - started
    return TrainResult(
        model=inference,
        history={k: [float(v) for v in vals] for k, vals in history.items()},
        recipe=dataclasses.replace(recipe, validation_size=val_size)
        if recipe.validation_size
        else recipe,
        seed=seed,
        wall_time_s=wall,
        best_epoch=best_epoch,
        train_size=train_size,
        validation_size=val_size,
        selected_weights=selected,
        validation_accuracy=val_accuracy,
        threshold=threshold,
        judge_examples=None
        if judge is None
        else {"negatives": len(judge.negatives), "positives": len(judge.positives)},
        train_limit=train_limit,
    )
