"""Host side of the emulated Raspberry Pi check: the inputs every guest reads.

    python scripts/pi_check/host_prepare.py --model M --count N --frames F --out DIR

Writes into DIR: ``model.tflite`` (a copy), ``reference.npz`` (N MNIST test images, their
labels and x86 LiteRT's probabilities for them), ``digit.png`` (one test digit, enlarged, dark
on light), ``frames/`` (F synthetic camera frames as PNG, from ``camera_demo.synth``) and
``expected.json`` (what the host's ``digit-classify`` and camera demo gave on those files).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from camera_demo.synth import render_frames
from runtime.classifier import DigitClassifier
from runtime.model_file import load_model, output_step
from train.data import load_mnist

DIGIT_INDEX = 0  # the first MNIST test image, a 7
DIGIT_SCALE = 4
DIGIT_MARGIN = 40


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--data", default=None, help="MNIST directory (default: as train does)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    out = args.out
    (out / "frames").mkdir(parents=True)
    model_path = out / "model.tflite"
    shutil.copyfile(args.model, model_path)
    model = model_path.read_bytes()
    mnist = load_mnist(args.data)
    images, labels = mnist.x_test[: args.count], mnist.y_test[: args.count]

    reference = DigitClassifier(model_path, backend="litert")
    probabilities = reference.predict_proba(images)
    step = output_step(load_model(model).parsed)
    np.savez_compressed(
        out / "reference.npz",
        images=images,
        labels=labels,
        probabilities=probabilities,
        scores=reference.predict_scores(images),
        step=np.float64(step if step is not None else np.nan),
    )

    digit = cv2.resize(
        255 - mnist.x_test[DIGIT_INDEX],
        None,
        fx=DIGIT_SCALE,
        fy=DIGIT_SCALE,
        interpolation=cv2.INTER_LINEAR,
    )
    digit = cv2.copyMakeBorder(digit, *[DIGIT_MARGIN] * 4, cv2.BORDER_CONSTANT, value=255)
    cv2.imwrite(str(out / "digit.png"), digit)

    numbers = []
    frames = render_frames(mnist.x_test, mnist.y_test, args.frames, seed=0, hold=3)
    for index, (view, truth) in enumerate(frames):
        cv2.imwrite(str(out / "frames" / f"frame_{index:03d}.png"), view)
        numbers.append(truth.number)

    classify = subprocess.run(
        [
            sys.executable,
            "-m",
            "runtime",
            str(out / "digit.png"),
            "--model",
            str(model_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    camera_jsonl = out / "host_camera.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "camera_demo",
            "--headless",
            "--model",
            str(model_path),
            "--source",
            str(out / "frames"),
            "--jsonl",
            str(camera_jsonl),
        ],
        capture_output=True,
        check=True,
    )
    host_numbers = [json.loads(line)["number"] for line in camera_jsonl.read_text().splitlines()]
    camera_jsonl.unlink()
    expected = {
        "count": len(images),
        "host_accuracy": float((probabilities.argmax(1) == labels).mean()),
        "output_step": step,
        "digit_label": int(mnist.y_test[DIGIT_INDEX]),
        "digit_host": json.loads(classify.stdout)["results"][0]["number"],
        "frames": args.frames,
        "frame_numbers_truth": numbers,
        "frame_numbers_host": host_numbers,
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1))
    print(
        f"host (x86 LiteRT): {len(images)} images, accuracy {expected['host_accuracy']:.2%}, "
        f"output step {step}; digit.png -> {expected['digit_host']}; "
        f"{args.frames} frames, host read {host_numbers} (truth {numbers})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
