"""LiteRT (``ai-edge-litert``): the default backend, Google's maintained TFLite interpreter."""

from __future__ import annotations

from runtime.backends.interpreter import InterpreterBackend

REQUIRED_MODULE = "ai_edge_litert"
INSTALL_HINT = "pip install ai-edge-litert"


def create(model: bytes, num_threads: int = 1, source: str = "model") -> InterpreterBackend:
    """Load ``model`` bytes into a LiteRT interpreter (XNNPACK delegate on, ``num_threads``)."""
    from ai_edge_litert.interpreter import Interpreter

    return InterpreterBackend("litert", Interpreter, model, num_threads, source)
