"""Guest side of the emulated Raspberry Pi check, run by the venv's Python inside the guest.

    python guest_check.py INPUTS VENV PATH_KIND RESULT_JSON

INPUTS is what host_prepare.py wrote. Checks, in this order: versions and the backends
available; the model on the MNIST images with every available backend against x86 LiteRT;
``digit-classify`` on digit.png; ``digit-camera --headless`` on the frames folder. For the
"system" install path it also checks that NumPy and OpenCV are apt's, not PyPI's.
Writes RESULT_JSON and exits 1 if anything failed.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

SYSTEM_SITE = "/usr/lib/python3/dist-packages/"


def main() -> int:
    inputs, venv, path_kind, result_path = (
        Path(sys.argv[1]),
        Path(sys.argv[2]),
        sys.argv[3],
        Path(sys.argv[4]),
    )
    result: dict = {"failures": []}
    failures: list[str] = result["failures"]
    try:
        check(inputs, venv, path_kind, result)
    except Exception as exc:  # any crash is a failure to report, with its traceback in the log
        import traceback

        traceback.print_exc()
        failures.append(f"{type(exc).__name__}: {exc}")
    result_path.write_text(json.dumps(result, indent=1))
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


def check(inputs: Path, venv: Path, path_kind: str, result: dict) -> None:
    failures = result["failures"]
    result["python"] = platform.python_version()
    result["machine"] = platform.machine()
    import numpy as np

    result["numpy"] = np.__version__
    result["numpy_from"] = "apt" if np.__file__.startswith(SYSTEM_SITE) else "pip"
    try:
        import cv2
    except ImportError as exc:
        result["opencv"] = None
        failures.append(f"import cv2 failed: {exc}")
    else:
        result["opencv"] = cv2.__version__
        result["opencv_from"] = "apt" if cv2.__file__.startswith(SYSTEM_SITE) else "pip"
    if path_kind == "system":
        for name in ("numpy", "opencv"):
            if result.get(f"{name}_from") != "apt":
                failures.append(f"{name} does not come from apt ({SYSTEM_SITE})")

    import runtime
    from runtime.classifier import DigitClassifier

    backends = runtime.available_backends()
    result["backends"] = backends
    if result["machine"] == "aarch64" and "litert" not in backends:
        failures.append("no LiteRT on 64-bit ARM, where the README's install adds it")
    print(
        f"python {result['python']} ({result['machine']}), numpy {result['numpy']} "
        f"({result['numpy_from']}), opencv {result['opencv']} ({result.get('opencv_from')}), "
        f"backends {backends}",
        flush=True,
    )

    reference = np.load(inputs / "reference.npz")
    images, expected = reference["images"], reference["probabilities"]
    step = float(reference["step"])
    model = inputs / "model.tflite"
    result["compare"] = {}
    for backend in backends:
        started = time.monotonic()
        try:
            classifier = DigitClassifier(model, backend=backend)
            probabilities = classifier.predict_proba(images)
            scores = classifier.predict_scores(images)
        except Exception as exc:
            failures.append(f"backend {backend}: {type(exc).__name__}: {exc}")
            continue
        diff = float(np.abs(probabilities.astype(np.float64) - expected).max())
        agreement = float((probabilities.argmax(1) == expected.argmax(1)).mean())
        score_diff = float(np.abs(scores.astype(np.float64) - reference["scores"]).max())
        row = {
            "agreement": agreement,
            "max_diff": diff,
            # The model's own outputs (int8 logits, dequantized) differ in whole steps.
            "steps": None if np.isnan(step) else round(score_diff / step, 3),
            "seconds": round(time.monotonic() - started, 1),
        }
        result["compare"][backend] = row
        print(
            f"backend {backend}: top-1 agreement {agreement:.2%} on {len(images)} images, "
            f"max |diff| {diff:.3g} ({row['steps']} steps), {row['seconds']} s",
            flush=True,
        )
        if agreement < 1.0:
            failures.append(f"backend {backend}: top-1 agreement with x86 LiteRT {agreement:.2%}")
    if not result["compare"]:
        failures.append("no backend ran the model")

    with open(inputs / "expected.json") as f:
        host = json.load(f)
    bin_dir = venv / "bin"
    classify = subprocess.run(
        [
            str(bin_dir / "digit-classify"),
            str(inputs / "digit.png"),
            "--model",
            str(model),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    print(
        f"digit-classify: exit {classify.returncode}\n{classify.stdout}{classify.stderr}",
        flush=True,
    )
    digit = None
    if classify.returncode == 0:
        digit = json.loads(classify.stdout)["results"][0]["number"]
    result["classify_ok"] = classify.returncode == 0 and digit == host["digit_host"]
    if not result["classify_ok"]:
        failures.append(
            f"digit-classify: exit {classify.returncode}, digit {digit} (x86 host: {host['digit_host']})"
        )

    jsonl = Path("/tmp/camera.jsonl")
    camera = subprocess.run(
        [
            str(bin_dir / "digit-camera"),
            "--headless",
            "--model",
            str(model),
            "--source",
            str(inputs / "frames"),
            "--jsonl",
            str(jsonl),
        ],
        capture_output=True,
        text=True,
    )
    print(f"digit-camera: exit {camera.returncode}\n{camera.stdout}{camera.stderr}", flush=True)
    records = jsonl.read_text().splitlines() if jsonl.exists() else []
    numbers = [json.loads(line)["number"] for line in records]
    result["camera_ok"] = camera.returncode == 0 and len(records) == host["frames"]
    result["camera_numbers"] = numbers
    print(
        f"camera numbers {numbers}; x86 host {host['frame_numbers_host']}; "
        f"truth {host['frame_numbers_truth']}",
        flush=True,
    )
    if not result["camera_ok"]:
        failures.append(
            f"digit-camera: exit {camera.returncode}, {len(records)} JSON lines for {host['frames']} frames"
        )


if __name__ == "__main__":
    sys.exit(main())
