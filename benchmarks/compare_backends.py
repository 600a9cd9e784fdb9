"""Compare the pure-NumPy backend with ai-edge-litert on the full MNIST test set.

    python -m benchmarks.compare_backends MODEL.tflite [--data DIR]

Both run through ``runtime.DigitClassifier``, as a device runs them. Prints the top-1
agreement, the largest difference of the probabilities, and a histogram of the differences of
the model's own outputs (``predict_scores``) in quantization steps (for an int8 model, the
step of its int8 logits).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from runtime.classifier import DigitClassifier
from runtime.model_file import load_model, output_step
from train.data import load_mnist


def main(argv: list[str] | None = None) -> int:
    """Run both backends on the 10,000 test images and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    images = load_mnist(args.data).x_test
    classifiers = {name: DigitClassifier(args.model, backend=name) for name in ("litert", "numpy")}
    raw = {name: c.predict_scores(images) for name, c in classifiers.items()}
    probabilities = {
        name: c.probabilities_from_scores(raw[name]) for name, c in classifiers.items()
    }
    agreement = float(
        (probabilities["litert"].argmax(1) == probabilities["numpy"].argmax(1)).mean()
    )
    largest = float(np.abs(probabilities["litert"] - probabilities["numpy"]).max())
    step = output_step(load_model(args.model).parsed)
    print(f"model: {args.model}")
    print(f"top-1 agreement numpy vs litert: {agreement:.4%} of {len(images)} images")
    print(f"largest probability difference: {largest:.2e}")
    if step is None:
        difference = np.abs(raw["litert"].astype(np.float64) - raw["numpy"]).max()
        print(f"float outputs; largest raw difference {difference:.2e}")
        return 0
    steps = np.round(np.abs(raw["litert"].astype(np.float64) - raw["numpy"]) / step)
    print(f"| difference (steps of {step:.4g}) | outputs |")
    print("| ---: | ---: |")
    for size, count in enumerate(np.bincount(steps.astype(int).ravel())):
        print(f"| {size} | {count} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
