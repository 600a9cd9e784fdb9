"""Evaluation report: ``metrics.json``, the confusion-matrix plot and the training curves."""

from __future__ import annotations

import platform
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

from runtime.atomic import atomic_path, write_json
from runtime.classifier import accepted
from train.data import MnistData, sha256_of
from train.fit import TrainResult, to_inputs

LIBRARIES = (
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "numpy",
    "scikit-learn",
    "opencv-python-headless",
)


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape the result."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def predict_probabilities(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities for uint8 images, in one batched call (never per image)."""
    return model.predict(to_inputs(images), batch_size=2048, verbose=0)


REJECTION_THRESHOLDS = (0.5, 0.7, 0.9)
OUTLIER_EVAL_SEED = 20_261_124  # a stream the training epochs never draw from
OUTLIER_EVAL_COUNT = 2000


def rejection_report(
    model, test_probabilities: np.ndarray, y_test: np.ndarray
) -> list[dict[str, float]]:
    """How a confidence threshold trades accepted test digits against rejected non-digits."""
    from train.outliers import render_outliers

    outliers = render_outliers(OUTLIER_EVAL_COUNT, np.random.default_rng(OUTLIER_EVAL_SEED))
    outlier_probabilities = predict_probabilities(model, outliers)
    correct = test_probabilities.argmax(axis=1) == y_test
    rows = []
    for threshold in REJECTION_THRESHOLDS:
        taken = accepted(test_probabilities, threshold)
        rows.append(
            {
                "threshold": threshold,
                "digits_accepted": float(taken.mean()),
                "accuracy_of_accepted": float(correct[taken].mean()) if taken.any() else 0.0,
                "non_digits_rejected": float((~accepted(outlier_probabilities, threshold)).mean()),
            }
        )
    return rows


def evaluate(model, data: MnistData) -> dict[str, Any]:
    """Accuracy, loss, per-class precision/recall/F1 and the confusion matrix on the test set."""
    probabilities = predict_probabilities(model, data.x_test)
    predicted = probabilities.argmax(axis=1)
    picked = probabilities[np.arange(len(predicted)), data.y_test]
    report = classification_report(data.y_test, predicted, output_dict=True, zero_division=0)
    per_class = {
        str(digit): {
            "precision": report[str(digit)]["precision"],
            "recall": report[str(digit)]["recall"],
            "f1": report[str(digit)]["f1-score"],
            "support": int(report[str(digit)]["support"]),
        }
        for digit in range(10)
    }
    return {
        "test_accuracy": float(accuracy_score(data.y_test, predicted)),
        "test_loss": float(-np.log(np.clip(picked, 1e-12, 1.0)).mean()),
        "test_errors": int((predicted != data.y_test).sum()),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(
            data.y_test, predicted, labels=list(range(10))
        ).tolist(),
        "rejection": rejection_report(model, probabilities, data.y_test),
    }


def build_metrics(
    result: TrainResult, data: MnistData, evaluation: dict[str, Any]
) -> dict[str, Any]:
    """Assemble the ``metrics.json`` document."""
    return {
        **evaluation,
        "recipe": result.recipe.name,
        "seed": result.seed,
        "epochs_run": len(result.history.get("loss", [])),
        "best_epoch": result.best_epoch,
        "selected_weights": result.selected_weights,
        "validation_accuracy": result.validation_accuracy,
        "threshold": None if result.threshold is None else result.threshold.to_dict(),
        "judge_examples": result.judge_examples,
        "wall_time_s": round(result.wall_time_s, 2),
        "parameters": int(result.model.count_params()),
        "train_limit": result.train_limit,
        "train_size": result.train_size,
        "validation_size": result.validation_size,
        "hyperparameters": result.recipe.to_dict(),
        "history": result.history,
        "dataset": {"source": data.source, "sha256": data.sha256},
        "versions": library_versions(),
    }


def plot_confusion_matrix(matrix: list[list[int]], path: Path, title: str) -> None:
    """Save the confusion matrix as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay(np.array(matrix), display_labels=list(range(10))).plot(
        ax=ax, cmap="Blues", colorbar=False, values_format="d"
    )
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def plot_training_curves(
    history: dict[str, list[float]], path: Path, best_epoch: int | None
) -> None:
    """Save loss and accuracy per epoch (training and validation) as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for key, label in (
            (metric, "train (augmented; non-digit images count as misses)"),
            (f"val_{metric}", "validation"),
        ):
            if key in history:
                ax.plot(range(1, len(history[key]) + 1), history[key], label=label)
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def write_report(result: TrainResult, data: MnistData, out_dir: Path) -> dict[str, Any]:
    """Evaluate on the test set and write model.keras, metrics.json and both plots into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # An earlier run's metrics.json goes first: interrupted between this run's files, the
    # folder must not look like a complete run of mixed files.
    (out_dir / "metrics.json").unlink(missing_ok=True)
    with atomic_path(out_dir / "model.keras", suffix=".keras") as tmp:
        result.model.save(tmp)
    evaluation = evaluate(result.model, data)
    metrics = build_metrics(result, data, evaluation)
    metrics["model_sha256"] = sha256_of(out_dir / "model.keras")
    title = f"{result.recipe.name} recipe: test accuracy {metrics['test_accuracy']:.2%}"
    plot_confusion_matrix(metrics["confusion_matrix"], out_dir / "confusion_matrix.png", title)
    plot_training_curves(result.history, out_dir / "training_curves.png", result.best_epoch)
    # metrics.json last: its presence means the run finished and every artifact is complete
    write_json(out_dir / "metrics.json", metrics)
    return metrics
