"""The legacy ``tflite-runtime`` wheel: abandoned upstream (no NumPy 2 builds), kept for old devices."""

from __future__ import annotations

from runtime.backends.interpreter import InterpreterBackend

REQUIRED_MODULE = "tflite_runtime"


def install_hint() -> str:
    """How to get this backend's library."""
    return "pip install tflite-runtime (needs numpy<2; prefer ai-edge-litert)"


def create(model: bytes, num_threads: int = 1, source: str = "model") -> InterpreterBackend:
    """Load ``model`` bytes into a ``tflite_runtime`` interpreter."""
    from tflite_runtime.interpreter import Interpreter

    return InterpreterBackend("tflite_runtime", Interpreter, model, num_threads, source)
