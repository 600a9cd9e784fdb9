"""Which int8 input/output tensor types are fastest end to end in ai-edge-litert?

Converts one .keras model (up to its logits, as ``convert`` does) to full-integer int8 with
every input type (uint8, int8, float32) and output type (float32, uint8, int8), then times the
device runtime end to end on one thread, from raw uint8 pixels to float probabilities:
``DigitClassifier.predict`` per image (batch 1) and ``predict_proba`` on batches of 256. This
decides ``convert.export.DEFAULT_INT8_INPUT`` / ``DEFAULT_INT8_OUTPUT``.

    python benchmarks/bench_convert_int8_io.py MODEL.keras [--data MNIST_DIR] [--rounds 7]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from convert.export import INT8_INPUT_TYPES, INT8_OUTPUT_TYPES, export_tflite
from convert.representative import representative_images
from convert.source import load_keras_model, logits_model
from runtime.classifier import DigitClassifier
from train.data import load_mnist

BATCH_SIZES = (1, 256)
Variant = tuple[str, str, int]  # input type, output type, batch size


def time_one_pass(classifier: DigitClassifier, batches: list[np.ndarray]) -> float:
    """Microseconds per image from uint8 pixels to probabilities over ``batches``."""
    start = time.perf_counter()
    for batch in batches:
        if len(batch) == 1:
            classifier.predict(batch[0])
        else:
            classifier.predict_proba(batch)
    return (time.perf_counter() - start) * 1e6 / (len(batches) * len(batches[0]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="trained .keras model")
    parser.add_argument("--data", default=None, help="MNIST directory")
    parser.add_argument("--rounds", type=int, default=7, help="timed passes per variant (median)")
    parser.add_argument("--images", type=int, default=2048, help="test images timed per pass")
    args = parser.parse_args()

    mnist = load_mnist(args.data)
    model = logits_model(load_keras_model(args.model))
    calibration = representative_images(mnist.x_train, mnist.y_train)
    pixels = mnist.x_test[: args.images]
    classifiers: dict[tuple[str, str], DigitClassifier] = {}
    for input_type, output_type in itertools.product(INT8_INPUT_TYPES, INT8_OUTPUT_TYPES):
        model_bytes = export_tflite(model, "int8", calibration, input_type, output_type)
        classifiers[input_type, output_type] = DigitClassifier(model_bytes, backend="litert")
    batches = {
        b: [pixels[i : i + b] for i in range(0, len(pixels) - b + 1, b)] for b in BATCH_SIZES
    }
    for classifier in classifiers.values():  # warm-up, and the batch interpreter's allocation
        for batch_size in BATCH_SIZES:
            time_one_pass(classifier, batches[batch_size][:10])
    samples: dict[Variant, list[float]] = {
        (*types, b): [] for types in classifiers for b in BATCH_SIZES
    }
    # Round-robin over the variants, so load from other processes hits them all alike.
    for _ in range(args.rounds):
        for variant in samples:
            samples[variant].append(time_one_pass(classifiers[variant[:2]], batches[variant[2]]))

    print(f"{'input':<8} {'output':<8} {'batch':>5} {'us/image':>9}")
    totals = {variant: statistics.median(runs) for variant, runs in samples.items()}

    def table_order(v: Variant) -> tuple[int, int, int]:
        return v[2], INT8_INPUT_TYPES.index(v[0]), INT8_OUTPUT_TYPES.index(v[1])

    for variant in sorted(totals, key=table_order):
        input_type, output_type, batch_size = variant
        print(f"{input_type:<8} {output_type:<8} {batch_size:>5} {totals[variant]:>9.2f}")
    for batch_size in BATCH_SIZES:
        ranked = sorted((total, v[0], v[1]) for v, total in totals.items() if v[2] == batch_size)
        print(
            f"fastest at batch {batch_size}: "
            + ", ".join(f"{i}->{o} {t:.2f} us" for t, i, o in ranked[:3])
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
