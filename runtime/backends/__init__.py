"""Inference backends: one small adapter per way of executing a ``.tflite`` file.

Every backend takes the model bytes, already checked by ``runtime.model_file``, and exposes the same narrow interface (:class:`Backend`):
the model's single input and output :class:`TensorSpec` and two calls that take already
converted model input (right dtype, right shape) and return the raw model output.
Conversion of pixels and dequantization of outputs live in ``runtime.classifier``.

``auto`` picks the first backend that loads, in :func:`auto_order`: LiteRT, the legacy
tflite-runtime, TensorFlow's interpreter only when TensorFlow is already imported by the
calling program (so ``auto`` never pays TensorFlow's import), and the pure-NumPy backend.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

import numpy as np

from runtime.errors import BackendUnavailableError

BACKEND_NAMES: tuple[str, ...] = ("litert", "tflite_runtime", "tensorflow", "numpy")
_MODULES = {
    "litert": "runtime.backends.litert",
    "tflite_runtime": "runtime.backends.tflite_runtime",
    "tensorflow": "runtime.backends.tensorflow_backend",
    "numpy": "runtime.backends.numpy_backend",
}


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape, dtype and per-tensor quantization of a model input or output.

    ``shape`` is the shape the model declares (batch dimension first, normally 1).
    ``scale == 0`` means the tensor is not quantized.
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        """True when the tensor holds integers that map to reals by ``scale * (q - zero_point)``."""
        return self.scale != 0.0

    @property
    def raw_pixels(self) -> bool:
        """True when the tensor takes raw 0..255 pixels as they are (uint8, scale 1/255, zp 0)."""
        return (
            self.dtype == np.uint8
            and np.float32(self.scale) == np.float32(1.0 / 255.0)
            and self.zero_point == 0
        )

    def to_dict(self) -> dict[str, object]:
        """dtype name, scale and zero point, JSON-ready."""
        return {"dtype": self.dtype.name, "scale": self.scale, "zero_point": self.zero_point}


class Backend(Protocol):
    """What ``DigitClassifier`` needs from an inference backend."""

    name: str
    input_spec: TensorSpec
    output_spec: TensorSpec

    def run_one(self, sample: np.ndarray) -> np.ndarray:
        """Run one sample shaped like ``input_spec.shape``; return the raw output ``(1, classes)``."""
        ...

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """Run ``(N, *input_spec.shape[1:])`` samples; return the raw outputs ``(N, classes)``."""
        ...


def _module(name: str) -> ModuleType:
    return importlib.import_module(_MODULES[name])


def _installed(module_name: str) -> bool:
    """True if ``module_name`` can be found, without importing it."""
    if module_name in sys.modules:
        return sys.modules[module_name] is not None
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


def available_backends() -> list[str]:
    """Names of the backends whose libraries are installed, in :data:`BACKEND_NAMES` order."""
    return [name for name in BACKEND_NAMES if _installed(_module(name).REQUIRED_MODULE)]


def auto_order() -> list[str]:
    """The backends ``backend="auto"`` tries, best first."""
    order = ["litert", "tflite_runtime"]
    if sys.modules.get("tensorflow") is not None:
        order.append("tensorflow")
    order.append("numpy")
    return order


def max_threads() -> int:
    """The most inference threads worth asking for: the CPUs this process may run on (its
    affinity mask where the platform has one; ``PYTHON_CPU_COUNT`` on Python 3.13+)."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13+
        count = os.process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:
        count = os.cpu_count()
    return max(1, count or 1)


def create_backend(name: str, model: bytes, num_threads: int = 1, source: str = "model") -> Backend:
    """Load ``model`` bytes with the backend called ``name`` (or the first that works for "auto").

    Raises ``BackendUnavailableError`` for an unknown or uninstalled backend and
    ``runtime.errors.ModelFormatError`` when the backend cannot run the model.
    """
    if name == "auto":
        missing = []
        for candidate in auto_order():
            try:
                return _create(candidate, model, num_threads, source)
            except BackendUnavailableError as exc:
                missing.append(str(exc))
        raise BackendUnavailableError("no inference backend is installed: " + "; ".join(missing))
    if name not in _MODULES:
        raise BackendUnavailableError(
            f"unknown backend {name!r}; choose one of: auto, {', '.join(BACKEND_NAMES)}"
        )
    return _create(name, model, num_threads, source)


def _create(name: str, model: bytes, num_threads: int, source: str) -> Backend:
    module = _module(name)
    if not _installed(module.REQUIRED_MODULE):
        raise BackendUnavailableError(
            f"backend {name!r} is not installed ({module.install_hint()})"
        )
    try:
        return module.create(model, num_threads=num_threads, source=source)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {name!r} failed to import: {exc} ({module.install_hint()})"
        ) from exc
