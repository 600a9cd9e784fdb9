"""Compare the pure-NumPy backend with ai-edge-litert on the full MNIST test set.

    python -m benchmarks.compare_backends MODEL.tflite [--data DIR]

Prints top-1 agreement and a histogram of output differences in quantization steps (for a
quantized or int8-with-float-output model, one step is the softmax output scale, 1/256).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from runtime.backends import create_backend
from train.data import load_mnist


def main(argv: list[str] | None = None) -> int:
    """Run both backends on the 10,000 test images and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    data = load_mnist(args.data)
    model = Path(args.model).read_bytes()
    litert, numpy_backend = create_backend("litert", model), create_backend("numpy", model)
    spec = litert.input_spec
    images = data.x_test
    if spec.dtype == np.int8:
        images = (images.astype(np.int16) - 128).astype(np.int8)
    elif spec.dtype != np.uint8:
        images = images.astype(np.float32) / 255
    batch = images.reshape(len(images), *spec.shape[1:])
    expected, actual = litert.run_batch(batch), numpy_backend.run_batch(batch)
    out = litert.output_spec
    step = 1.0 if out.quantized else 1 / 256
    steps = np.round(np.abs(expected.astype(np.float64) - actual.astype(np.float64)) / step)
    agreement = float((expected.argmax(1) == actual.argmax(1)).mean())
    print(f"model: {args.model}")
    print(f"top-1 agreement numpy vs litert: {agreement:.4%} of {len(batch)} images")
    print("| difference (steps) | outputs |")
    print("| ---: | ---: |")
    for size, count in enumerate(np.bincount(steps.astype(int).ravel())):
        print(f"| {size} | {count} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
