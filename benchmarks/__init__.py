"""Benchmark scripts: each prints a table (see the README's Tests and benchmarks)."""

from pathlib import Path

# MNIST beside the checkout (../shared/data/mnist), where CI puts it: the benchmarks' default
# when neither --data nor DIGIT_KIT_MNIST_DIR names one.
DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
