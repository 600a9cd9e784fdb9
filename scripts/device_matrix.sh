#!/usr/bin/env bash
# The device tests (runtime and camera demo, no TensorFlow) under the oldest and the newest
# NumPy and OpenCV the kit supports, and on an install without OpenCV at all. Each runs in a
# virtual environment of its own (.venv-device-*). Called by scripts/test.sh, hence by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE_TESTS=(
  tests/test_images.py tests/test_classifier.py tests/test_model_file.py tests/test_numpy_backend.py
  tests/test_preprocess.py tests/test_segment.py tests/test_runtime_cli.py tests/test_no_tensorflow.py
  tests/test_camera_cli.py tests/test_camera_stop.py tests/test_camera_sources.py
  tests/test_camera_smoothing.py tests/test_camera_overlay.py
)
NO_OPENCV_TESTS=(tests/test_classifier.py tests/test_model_file.py tests/test_numpy_backend.py tests/test_optional_opencv.py)
TEST_TOOLS=(pytest hypothesis pillow)

venv() {  # venv NAME: a fresh virtual environment .venv-device-NAME
  local dir=".venv-device-$1"
  python3 -m venv --clear "$dir"
  "$dir/bin/pip" install -q --upgrade pip >/dev/null
  echo "$dir"
}

report() {  # report DIR: the versions under test
  "$1/bin/python" - <<'PY'
import importlib, sys
parts = [f"Python {sys.version.split()[0]}"]
for name in ("numpy", "cv2", "ai_edge_litert"):
    try:
        module = importlib.import_module(name)
        parts.append(f"{name} {getattr(module, '__version__', 'installed')}")
    except ImportError:
        parts.append(f"{name} absent")
print("device run:", ", ".join(parts))
PY
}

# Oldest: Debian/Raspberry Pi OS Bookworm's NumPy 1.24 and OpenCV 4.6.
dir=$(venv oldest)
printf 'numpy==1.24.4\nopencv-python-headless==4.6.0.66\n' > "$dir/constraints.txt"
"$dir/bin/pip" install -q -c "$dir/constraints.txt" -e ".[device]" "${TEST_TOOLS[@]}"
report "$dir"
"$dir/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" "${DEVICE_TESTS[@]}"

# Newest: whatever PyPI serves today within the supported ranges.
dir=$(venv newest)
"$dir/bin/pip" install -q --upgrade -e ".[device]" "${TEST_TOOLS[@]}"
report "$dir"
"$dir/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" "${DEVICE_TESTS[@]}"

# No OpenCV: `import runtime` classifies 28x28 arrays with numpy and LiteRT only.
dir=$(venv no-opencv)
"$dir/bin/pip" install -q -e ".[litert]" "${TEST_TOOLS[@]}"
if "$dir/bin/python" -c "import cv2" 2>/dev/null; then
  echo "device_matrix: OpenCV is importable in the no-OpenCV environment" >&2
  exit 1
fi
report "$dir"
"$dir/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" "${NO_OPENCV_TESTS[@]}"
