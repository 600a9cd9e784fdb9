"""TensorFlow's own (deprecated) ``tf.lite.Interpreter``.

Only used when asked for by name, or by ``auto`` when the calling program has already
imported TensorFlow: importing it just to classify digits costs seconds and gigabytes.
"""

from __future__ import annotations

import warnings

from runtime import install_hints
from runtime.backends.interpreter import InterpreterBackend

install_hint = install_hints.tensorflow
REQUIRED_MODULE = "tensorflow"


def create(model: bytes, num_threads: int = 1, source: str = "model") -> InterpreterBackend:
    """Load ``model`` bytes into ``tf.lite.Interpreter``."""
    import tensorflow as tf

    def interpreter(**kwargs):
        with warnings.catch_warnings():
            # Asked for by name: its "deprecated, use ai_edge_litert" warning tells nothing new.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            return tf.lite.Interpreter(**kwargs)

    return InterpreterBackend("tensorflow", interpreter, model, num_threads, source)
