"""Benchmark the device runtime per backend and model format; print a markdown table.

    python -m benchmarks.bench_runtime --model-dir runs/models --keras runs/model.keras \
        [--data ../shared/data/mnist] [--backends litert,numpy] [--no-references]

Columns, all with one thread:
- predict µs: median wall time of ``clf.predict(image)`` on a 28x28 uint8 MNIST test image,
  Python overhead included (each call timed on its own, images cycled; lowest of 5 round
  medians, since the machine may be shared);
- batch img/s: ``clf.predict_proba`` on batches of 256 MNIST test images, best of 5 rounds;
- import+load s / peak RSS MB: a fresh process runs ``import runtime;
  DigitClassifier(path, backend=...)``, timed from inside (interpreter start-up excluded);
  then its peak RSS. Median of ``--load-runs``. The peak is ``VmHWM`` from
  ``/proc/self/status`` where it exists: on Linux ``ru_maxrss`` of a child also counts the
  parent's memory it was forked from, before ``exec``.
Every row runs in its own process, so nothing (TensorFlow least of all) is shared between
rows. References: Keras ``model.predict`` (the notebook's way, 1 intra/inter-op thread) on
the ``.keras`` file, and ONNX Runtime (1 thread) on that model converted with tf2onnx.

``OPENBLAS_NUM_THREADS`` defaults to 1 so the NumPy backend is also single-threaded.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from benchmarks.machine import describe_machine

FORMATS = ("float32", "float16", "dynamic", "int8")
BATCH = 256
REPO = Path(__file__).resolve().parents[1]
TARGETS = {
    "predict_us": 30.0,  # int8 file on LiteRT
    "batch_images_per_s": 200_000.0,
    "load_s": 0.3,
    "rss_mb": 100.0,
    "numpy_over_litert": 10.0,
}

LOAD_SCRIPTS = {
    "runtime": (
        "import runtime\nclf = runtime.DigitClassifier(sys.argv[1], backend=sys.argv[2])\n"
    ),
    "keras": ("import keras\nmodel = keras.saving.load_model(sys.argv[1])\n"),
    "onnxruntime": (
        "import onnxruntime as ort\n"
        "options = ort.SessionOptions()\n"
        "options.intra_op_num_threads = 1\n"
        "options.inter_op_num_threads = 1\n"
        "session = ort.InferenceSession(sys.argv[1], options, providers=['CPUExecutionProvider'])\n"
    ),
}
LOAD_TEMPLATE = """
import json, resource, sys, time
started = time.perf_counter()
{body}
seconds = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(json.dumps({{"seconds": seconds, "rss_mb": peak_kb / 1024}}))
"""


def median_call_us(
    call: Callable[[np.ndarray], object], images: np.ndarray, calls: int, rounds: int = 5
) -> float:
    """Median wall time of ``call(image)`` in µs, each call timed on its own; the lowest of
    ``rounds`` round medians, so a burst of load from other processes spoils one round only."""
    for image in images[: min(200, calls)]:  # warm-up
        call(image)
    clock = time.perf_counter_ns
    per_round = max(1, calls // rounds)
    medians = []
    for round_index in range(rounds):
        timings = []
        for index in range(per_round):
            image = images[(round_index * per_round + index) % len(images)]
            started = clock()
            call(image)
            timings.append(clock() - started)
        medians.append(statistics.median(timings))
    return min(medians) / 1000


def images_per_second(
    call: Callable[[np.ndarray], object], images: np.ndarray, batches: int, rounds: int = 5
) -> float:
    """Best throughput of ``call(batch)`` over ``rounds`` rounds of ``batches / rounds``
    batches of ``BATCH`` images (best, as timeit does: other load only ever slows a round)."""
    chunks = [images[i : i + BATCH] for i in range(0, len(images) - BATCH + 1, BATCH)]
    for chunk in chunks[:3]:
        call(chunk)
    per_round = max(1, batches // rounds)
    best = 0.0
    for round_index in range(rounds):
        started = time.perf_counter()
        for index in range(per_round):
            call(chunks[(round_index * per_round + index) % len(chunks)])
        best = max(best, per_round * BATCH / (time.perf_counter() - started))
    return best


def fresh_process_load(kind: str, args: list[str], runs: int) -> tuple[float, float]:
    """Median (seconds, peak RSS MB) of a fresh process importing and loading a model."""
    script = LOAD_TEMPLATE.format(body=LOAD_SCRIPTS[kind])
    results = []
    for _ in range(runs):
        completed = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return (
        statistics.median(r["seconds"] for r in results),
        statistics.median(r["rss_mb"] for r in results),
    )


def bench_runtime(path: Path, backend: str, args: argparse.Namespace) -> dict:
    """One row: the kit's runtime on one backend and model file (measured in child processes)."""
    row = run_child(
        "--worker",
        "runtime",
        "--worker-model",
        str(path),
        "--backend-name",
        backend,
        *data_args(args),
        "--calls",
        str(args.calls),
        "--batches",
        str(args.batches),
    )
    row["load_s"], row["rss_mb"] = fresh_process_load(
        "runtime", [str(path), backend], args.load_runs
    )
    return row


def data_args(args: argparse.Namespace) -> list[str]:
    return ["--data", args.data] if args.data else []


def worker(kind: str, model: Path, args: argparse.Namespace) -> dict:
    """Run in a child process: predict latency and batch throughput of one runtime (1 thread)."""
    from train.data import load_mnist

    images = load_mnist(args.data).x_test
    if kind == "runtime":
        from runtime import DigitClassifier

        clf = DigitClassifier(model, backend=args.backend_name, num_threads=1)
        predict_one, predict_batch = clf.predict, clf.predict_proba
    elif kind == "litert-raw":
        predict_one, predict_batch = raw_litert(model)
    elif kind == "keras":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import keras

        network = keras.saving.load_model(model)

        def predict_batch(batch: np.ndarray) -> np.ndarray:
            return network.predict(batch.astype(np.float32) / 255, verbose=0)

        def predict_one(image: np.ndarray) -> np.ndarray:
            return predict_batch(image[None])

    else:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def predict_batch(batch: np.ndarray) -> np.ndarray:
            return session.run(None, {name: batch.astype(np.float32) / 255})[0]

        def predict_one(image: np.ndarray) -> np.ndarray:
            return predict_batch(image[None])

    return {
        "predict_us": median_call_us(predict_one, images, args.calls),
        "batch_images_per_s": images_per_second(predict_batch, images, args.batches),
    }


def raw_litert(model: Path) -> tuple[Callable, Callable]:
    """The floor under the runtime: bare LiteRT set_tensor/invoke/get_tensor on uint8 input
    (for a uint8-input model), one interpreter per batch size, no checks, no dequantization."""
    from ai_edge_litert.interpreter import Interpreter

    def interpreter(rows: int):
        it = Interpreter(model_path=str(model), num_threads=1)
        it.resize_tensor_input(it.get_input_details()[0]["index"], [rows, 28, 28])
        it.allocate_tensors()
        return it, it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    single, single_in, single_out = interpreter(1)
    batch, batch_in, batch_out = interpreter(BATCH)

    def predict_one(image: np.ndarray) -> np.ndarray:
        single.set_tensor(single_in, image[None])
        single.invoke()
        return single.get_tensor(single_out)

    def predict_batch(images: np.ndarray) -> np.ndarray:
        batch.set_tensor(batch_in, images)
        batch.invoke()
        return batch.get_tensor(batch_out)

    return predict_one, predict_batch


def convert_to_onnx(keras_path: Path, onnx_path: Path) -> None:
    """Run in a child process: the Keras model as ONNX via tf2onnx (opset 17)."""
    import keras
    import tensorflow as tf
    import tf2onnx

    network = keras.saving.load_model(keras_path)
    signature = (tf.TensorSpec((None, 28, 28), tf.float32, name="image"),)
    proto, _ = tf2onnx.convert.from_keras(network, input_signature=signature, opset=17)
    onnx_path.write_bytes(proto.SerializeToString())


def run_child(*args: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_runtime", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"child {args[:2]} failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def bench_references(args: argparse.Namespace) -> list[tuple[str, str, dict]]:
    common = [
        *data_args(args),
        "--calls",
        str(args.reference_calls),
        "--batches",
        str(args.reference_batches),
    ]
    keras_row = run_child("--worker", "keras", "--worker-model", str(args.keras), *common)
    keras_row["load_s"], keras_row["rss_mb"] = fresh_process_load(
        "keras", [str(args.keras)], args.load_runs
    )
    rows = [("keras model.predict", "float32 (.keras)", keras_row)]
    missing = [name for name in ("onnxruntime", "tf2onnx") if find_spec(name) is None]
    if missing:
        print(
            f"skipping the ONNX Runtime reference: {' and '.join(missing)} not installed "
            '(pip install -e ".[bench]")',
            file=sys.stderr,
        )
        return rows
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = Path(scratch) / "model.onnx"
        run_child(
            "--worker", "convert-onnx", "--worker-model", str(args.keras), "--onnx", str(onnx_path)
        )
        onnx_row = run_child("--worker", "onnx", "--worker-model", str(onnx_path), *common)
        onnx_row["load_s"], onnx_row["rss_mb"] = fresh_process_load(
            "onnxruntime", [str(onnx_path)], args.load_runs
        )
    return [*rows, ("onnxruntime", "float32 (tf2onnx)", onnx_row)]


def format_table(rows: list[tuple[str, str, dict]]) -> str:
    def cell(value: float, spec: str) -> str:
        return "-" if value != value else format(value, spec)  # NaN: not measured

    lines = [
        "| backend | format | predict µs (median) | batch-256 img/s | import+load s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for backend, fmt, row in rows:
        lines.append(
            f"| {backend} | {fmt} | {cell(row['predict_us'], ',.1f')} "
            f"| {cell(row['batch_images_per_s'], ',.0f')} | {cell(row['load_s'], '.3f')} "
            f"| {cell(row['rss_mb'], '.0f')} |"
        )
    return "\n".join(lines)


def target_report(results: dict[tuple[str, str], dict]) -> list[str]:
    lines = []
    litert_int8 = results.get(("litert", "int8"))
    if litert_int8:
        checks = [
            (
                "predict() int8 on LiteRT",
                litert_int8["predict_us"],
                "<=",
                TARGETS["predict_us"],
                "µs",
            ),
            (
                "batch int8 on LiteRT",
                litert_int8["batch_images_per_s"],
                ">=",
                TARGETS["batch_images_per_s"],
                "img/s",
            ),
            ("import runtime + load int8", litert_int8["load_s"], "<=", TARGETS["load_s"], "s"),
            ("peak RSS of that process", litert_int8["rss_mb"], "<=", TARGETS["rss_mb"], "MB"),
        ]
        for label, value, op, target, unit in checks:
            met = value <= target if op == "<=" else value >= target
            lines.append(
                f"- {label}: {value:,.3g} {unit} (target {op} {target:,.3g}): {'met' if met else 'MISSED'}"
            )
    for fmt in FORMATS:
        numpy_row, litert_row = results.get(("numpy", fmt)), results.get(("litert", fmt))
        if numpy_row and litert_row:
            ratio = numpy_row["predict_us"] / litert_row["predict_us"]
            met = ratio <= TARGETS["numpy_over_litert"]
            lines.append(
                f"- NumPy / LiteRT predict() on {fmt}: {ratio:.1f}x "
                f"(target <= {TARGETS['numpy_over_litert']:g}x): {'met' if met else 'MISSED'}"
            )
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="directory with model_<format>.tflite")
    parser.add_argument("--keras", type=Path, help="the source .keras file (for the references)")
    parser.add_argument("--data", type=str, default=None, help="MNIST directory (images to time)")
    parser.add_argument("--backends", default=None, help="comma list (default: all installed)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma list of formats")
    parser.add_argument("--calls", type=int, default=5000, help="timed predict() calls per row")
    parser.add_argument("--batches", type=int, default=200, help="timed batches per row")
    parser.add_argument("--load-runs", type=int, default=3, help="fresh processes per load timing")
    parser.add_argument("--reference-calls", type=int, default=50)
    parser.add_argument("--reference-batches", type=int, default=20)
    parser.add_argument("--no-references", action="store_true", help="skip Keras and ONNX Runtime")
    parser.add_argument(
        "--worker",
        choices=("runtime", "litert-raw", "keras", "onnx", "convert-onnx"),
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--backend-name", help=argparse.SUPPRESS)
    parser.add_argument("--worker-model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--onnx", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.worker and args.model_dir is None:
        parser.error("--model-dir is required")
    if not args.worker and not args.no_references and args.keras is None:
        parser.error("--keras is required for the references (or pass --no-references)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker == "convert-onnx":
        convert_to_onnx(args.worker_model, args.onnx)
        print("{}")
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.worker_model, args)))
        return 0

    from runtime import available_backends

    backends = args.backends.split(",") if args.backends else available_backends()
    rows: list[tuple[str, str, dict]] = []
    results: dict[tuple[str, str], dict] = {}
    for fmt in args.formats.split(","):
        path = args.model_dir / f"model_{fmt}.tflite"
        if not path.is_file():
            print(f"skipping {fmt}: {path} not found", file=sys.stderr)
            continue
        for backend in backends:
            row = bench_runtime(path, backend, args)
            results[(backend, fmt)] = row
            rows.append((backend, fmt, row))
            print(f"measured {backend} {fmt}", file=sys.stderr)
    int8_path = args.model_dir / "model_int8.tflite"
    if int8_path.is_file() and "litert" in backends:
        raw = run_child(
            "--worker",
            "litert-raw",
            "--worker-model",
            str(int8_path),
            *data_args(args),
            "--calls",
            str(args.calls),
            "--batches",
            str(args.batches),
        )
        raw["load_s"] = raw["rss_mb"] = float("nan")
        rows.append(("bare LiteRT Interpreter (floor)", "int8", raw))
    if not args.no_references:
        rows.extend(bench_references(args))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Machine: {describe_machine()}; load average at the end {load:.2f}")
    print(f"1 thread; predict() on 28x28 uint8; batches of {BATCH}.\n")
    print(format_table(rows))
    print()
    print("\n".join(target_report(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
