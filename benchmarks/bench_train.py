"""Benchmark both training recipes on real MNIST and print a markdown table.

    python -m benchmarks.bench_train --data ../shared/data/mnist [--recipes seed,default] [--seed 0]

Each recipe runs ``python -m train`` in a fresh process (so timings include nothing else);
the numbers come from the ``metrics.json`` each run writes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import describe_machine


def run_recipe(recipe: str, data: Path | None, seed: int, out: Path) -> dict:
    """Train one recipe in a subprocess; return its metrics plus the process wall time."""
    command = [
        sys.executable,
        "-m",
        "train",
        "--recipe",
        recipe,
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--quiet",
    ]
    if data is not None:
        command += ["--data", str(data)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["process_time_s"] = time.perf_counter() - started
    return metrics


def _judge(metrics: dict) -> str:
    """The acceptance threshold chosen in training and what it did on the held-out pages."""
    choice = metrics.get("threshold")
    if not choice:
        return "- | - | -"
    return (
        f"{choice['threshold']:.3f} | {choice['digits_read']:.1%} | "
        f"{choice['false_digits_per_page']:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--recipes", default="seed,default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep each run's outputs under this directory"
    )
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        for recipe in args.recipes.split(","):
            metrics = run_recipe(recipe, args.data, args.seed, root / recipe)
            rows.append((recipe, metrics))
            print(f"{recipe}: test accuracy {metrics['test_accuracy']:.4f}", file=sys.stderr)
    print(f"\nMachine: {describe_machine()}\n")
    print(
        "| recipe | epochs | best epoch | test accuracy | test errors | training time | whole run "
        "| threshold | held-out pages: digits read | false digits / page |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for recipe, m in rows:
        best = m["best_epoch"] if m["best_epoch"] is not None else "-"
        print(
            f"| {recipe} | {m['epochs_run']} | {best} | {m['test_accuracy']:.2%} | {m['test_errors']} "
            f"| {m['wall_time_s']:.0f} s | {m['process_time_s']:.0f} s | {_judge(m)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
