"""The backend shared by every TFLite ``Interpreter`` class (LiteRT, tflite-runtime, TensorFlow).

Two interpreters over the same model bytes: one fixed at batch 1 for ``run_one`` (no resize
ever, so single predictions never pay for a batch), and one for ``run_batch`` created on the
first batch. The batch interpreter's batch dimension is resized only when a bigger batch than
any before arrives, up to ``max_chunk``; larger batches run in chunks of that size and any
chunk smaller than the current capacity is padded into a preallocated buffer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from runtime.backends import TensorSpec
from runtime.errors import ModelFormatError
from runtime.stderr_capture import pass_on_stderr, stderr_caught

DEFAULT_MAX_CHUNK = 256
# Printed straight to file descriptor 2 by the first interpreter of a process that creates
# its default CPU delegate; no Python switch or variable (TF_CPP_MIN_LOG_LEVEL included)
# reaches TFLite's logger.
_DELEGATE_NOTICE = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
# The interpreter classes whose first interpreter of the process was created (each library
# prints its own notice once).
_notice_passed: set[Any] = set()


@contextmanager
def _delegate_notice_hidden(interpreter_class: Any) -> Iterator[None]:
    """Catch descriptor 2 while ``interpreter_class``'s first interpreter of the process is
    created, and pass on all that was written there except the delegate's notice; later
    interpreters are created as they are."""
    if interpreter_class in _notice_passed:
        yield
        return
    with stderr_caught() as caught:  # a failed load has all of it passed on, the notice too
        yield
        _notice_passed.add(interpreter_class)
    pass_on_stderr(caught.data.replace(_DELEGATE_NOTICE, b"", 1))


def _spec(detail: dict[str, Any], role: str, source: str) -> TensorSpec:
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", ()), dtype=np.float64).ravel()
    zero_points = np.asarray(params.get("zero_points", ()), dtype=np.int64).ravel()
    if scales.size > 1:
        raise ModelFormatError(
            f"{source}: the model {role} is quantized per channel; the kit needs one scale"
        )
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if scales.size == 1:
        scale = float(scales[0])
        zero_point = int(zero_points[0]) if zero_points.size else 0
    return TensorSpec(
        name=str(detail.get("name", role)),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


def _run_on_zeros(interpreter: Any) -> None:
    """Run ``interpreter`` once on a zero input: the CPU delegate prepares its graph on the
    first ``invoke``, so a model it cannot run (a damaged quantization parameter, say) fails
    here, where it is reported as a bad model, not in the middle of a reading."""
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()


class InterpreterBackend:
    """Runs a model with any class that has the ``tf.lite.Interpreter`` API."""

    def __init__(
        self,
        name: str,
        interpreter_class: Callable[..., Any],
        model: bytes,
        num_threads: int = 1,
        source: str = "model",
        max_chunk: int = DEFAULT_MAX_CHUNK,
    ) -> None:
        self.name = name
        self._source = source
        self._interpreter_class = interpreter_class
        self._new_interpreter = lambda: interpreter_class(
            model_content=model, num_threads=num_threads
        )
        self._max_chunk = max_chunk
        single = self._create()
        inputs, outputs = single.get_input_details(), single.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFormatError(
                f"{source}: expected a model with one input and one output, "
                f"got {len(inputs)} inputs and {len(outputs)} outputs"
            )
        self.input_spec = _spec(inputs[0], "input", source)
        self.output_spec = _spec(outputs[0], "output", source)
        self._input_index = inputs[0]["index"]
        self._output_index = outputs[0]["index"]
        signature = inputs[0].get("shape_signature")
        self._dynamic_batch = signature is not None and len(signature) > 0 and signature[0] == -1
        # Bound methods looked up once: the per-call path is only these three calls.
        self._set_tensor = single.set_tensor
        self._invoke = single.invoke
        self._get_tensor = single.get_tensor
        self._batch_interpreter: Any = None
        self._capacity = 0
        self._padded: np.ndarray | None = None

    def _create(self) -> Any:
        try:
            with _delegate_notice_hidden(self._interpreter_class):
                interpreter = self._new_interpreter()
                interpreter.allocate_tensors()
                _run_on_zeros(interpreter)
        except (ValueError, RuntimeError) as exc:
            raise ModelFormatError(f"{self.name} cannot load {self._source}: {exc}") from exc
        return interpreter

    def run_one(self, sample: np.ndarray) -> np.ndarray:
        """Run one sample shaped like ``input_spec.shape``; return the raw ``(1, classes)`` output."""
        self._set_tensor(self._input_index, sample)
        self._invoke()
        return self._get_tensor(self._output_index)

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """Run ``(N, ...)`` samples in chunks; return the raw ``(N, classes)`` outputs."""
        count = len(batch)
        classes = self.output_spec.shape[-1]
        outputs = np.empty((count, classes), dtype=self.output_spec.dtype)
        if count == 0:
            return outputs
        if count == 1 or not self._dynamic_batch:
            # A model converted with a fixed batch of 1 cannot be resized: run it per sample.
            for row in range(count):
                outputs[row] = self.run_one(batch[row : row + 1])[0]
            return outputs
        self._reserve(min(count, self._max_chunk))
        interpreter, capacity = self._batch_interpreter, self._capacity
        for start in range(0, count, capacity):
            chunk = batch[start : start + capacity]
            rows = len(chunk)
            if rows < capacity:
                self._padded[:rows] = chunk
                chunk = self._padded
            interpreter.set_tensor(self._input_index, np.ascontiguousarray(chunk))
            interpreter.invoke()
            outputs[start : start + rows] = interpreter.get_tensor(self._output_index)[:rows]
        return outputs

    def _reserve(self, rows: int) -> None:
        """Make the batch interpreter hold at least ``rows`` samples (it never shrinks)."""
        if rows <= self._capacity:
            return
        if self._batch_interpreter is None:
            self._batch_interpreter = self._create()
        shape = (rows, *self.input_spec.shape[1:])
        try:
            self._batch_interpreter.resize_tensor_input(self._input_index, list(shape))
            self._batch_interpreter.allocate_tensors()
            _run_on_zeros(self._batch_interpreter)
        except (ValueError, RuntimeError) as exc:
            raise ModelFormatError(
                f"{self.name} cannot run {self._source} with a batch of {rows}: {exc}"
            ) from exc
        self._capacity = rows
        self._padded = np.zeros(shape, dtype=self.input_spec.dtype)
