"""Which int8 input/output tensor types are fastest end to end in ai-edge-litert?

Converts one .keras model to full-integer int8 with every input type (uint8, int8, float32)
and output type (float32, uint8, int8), then times, at batch 1 and batch 256 on one thread:
the NumPy encoding of raw uint8 pixels for the input, the LiteRT set_tensor + invoke +
get_tensor, and the NumPy decoding of the output to float probabilities. This decides
``convert.export.DEFAULT_INT8_INPUT`` / ``DEFAULT_INT8_OUTPUT``.

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
from convert.litert_io import LiteRTRunner
from convert.representative import representative_images
from convert.source import load_keras_model
from train.data import load_mnist

BATCH_SIZES = (1, 256)
Variant = tuple[str, str, int]  # input type, output type, batch size


def time_one_pass(runner: LiteRTRunner, batches: list[np.ndarray]) -> dict[str, float]:
    """Microseconds per image spent encoding, invoking and decoding over ``batches``."""
    spent = dict.fromkeys(("encode", "invoke", "decode"), 0.0)
    for batch in batches:
        t0 = time.perf_counter()
        encoded = runner.encode(batch)
        t1 = time.perf_counter()
        raw = runner.invoke_encoded(encoded)
        t2 = time.perf_counter()
        runner.decode(raw)
        t3 = time.perf_counter()
        spent["encode"] += t1 - t0
        spent["invoke"] += t2 - t1
        spent["decode"] += t3 - t2
    images = len(batches) * len(batches[0])
    timings = {part: seconds * 1e6 / images for part, seconds in spent.items()}
    timings["total"] = sum(timings.values())
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="trained .keras model")
    parser.add_argument("--data", default=None, help="MNIST directory")
    parser.add_argument("--rounds", type=int, default=7, help="timed passes per variant (median)")
    parser.add_argument("--images", type=int, default=2048, help="test images timed per pass")
    args = parser.parse_args()

    mnist = load_mnist(args.data)
    model = load_keras_model(args.model)
    calibration = representative_images(mnist.x_train, mnist.y_train)
    pixels = mnist.x_test[: args.images]
    runners: dict[Variant, LiteRTRunner] = {}
    for input_type, output_type in itertools.product(INT8_INPUT_TYPES, INT8_OUTPUT_TYPES):
        model_bytes = export_tflite(model, "int8", calibration, input_type, output_type)
        for batch_size in BATCH_SIZES:
            runners[input_type, output_type, batch_size] = LiteRTRunner(
                model_bytes, batch_size, num_threads=1
            )
    batches = {
        b: [pixels[i : i + b] for i in range(0, len(pixels) - b + 1, b)] for b in BATCH_SIZES
    }
    for (_, _, batch_size), runner in runners.items():  # warm-up
        time_one_pass(runner, batches[batch_size][:10])
    samples: dict[Variant, list[dict[str, float]]] = {variant: [] for variant in runners}
    # Round-robin over the variants, so load from other processes hits them all alike.
    for _ in range(args.rounds):
        for variant, runner in runners.items():
            samples[variant].append(time_one_pass(runner, batches[variant[2]]))

    parts = ("encode", "invoke", "decode", "total")
    print(f"{'input':<8} {'output':<8} {'batch':>5} " + " ".join(f"{p + '_us':>9}" for p in parts))
    totals: dict[Variant, float] = {}

    def table_order(v: Variant) -> tuple[int, int, int]:
        return v[2], INT8_INPUT_TYPES.index(v[0]), INT8_OUTPUT_TYPES.index(v[1])

    for variant in sorted(samples, key=table_order):
        runs = samples[variant]
        median = {part: statistics.median(run[part] for run in runs) for part in parts}
        totals[variant] = median["total"]
        input_type, output_type, batch_size = variant
        cells = " ".join(f"{median[part]:>9.2f}" for part in parts)
        print(f"{input_type:<8} {output_type:<8} {batch_size:>5} {cells}")
    for batch_size in BATCH_SIZES:
        ranked = sorted((total, v[0], v[1]) for v, total in totals.items() if v[2] == batch_size)
        print(
            f"fastest at batch {batch_size}: "
            + ", ".join(f"{i}->{o} {t:.2f} us" for t, i, o in ranked[:3])
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
