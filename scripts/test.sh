#!/usr/bin/env bash
# Sets up and runs every test: ruff and the whole pytest suite in .venv (the dev extra), then
# the device tests under the oldest and newest supported NumPy/OpenCV and without OpenCV
# (scripts/device_matrix.sh). Tests that drive Mosquitto, Chromium or the benchmark's fonts
# skip without them (apt-get install mosquitto chromium chromium-driver fonts-...; see the
# README), unless DIGIT_KIT_REQUIRE_SYSTEM_TESTS=1, as CI sets, makes them fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q -e ".[dev]"
.venv/bin/ruff check .
.venv/bin/python -m pytest
bash scripts/device_matrix.sh
