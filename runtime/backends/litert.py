"""LiteRT (``ai-edge-litert``): the default backend, Google's maintained TFLite interpreter."""

from __future__ import annotations

from runtime import install_hints
from runtime.backends.interpreter import InterpreterBackend

install_hint = install_hints.litert
REQUIRED_MODULE = "ai_edge_litert"


def create(model: bytes, num_threads: int = 1, source: str = "model") -> InterpreterBackend:
    """Load ``model`` bytes into a LiteRT interpreter (XNNPACK delegate on, ``num_threads``)."""
    from ai_edge_litert.interpreter import Interpreter

    return InterpreterBackend("litert", Interpreter, model, num_threads, source)
