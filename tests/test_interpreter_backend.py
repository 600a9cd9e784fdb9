"""The TFLite interpreter backend's own behaviour (its numbers are checked in test_numpy_backend)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import tflite_builder as tb

from runtime.backends import interpreter


def test_litert_loads_a_model_without_its_delegate_notice(tmp_path):
    pytest.importorskip("ai_edge_litert")
    model = tmp_path / "model.tflite"
    model.write_bytes(tb.float_mlp(tb.FloatMlp.random(seed=3, hidden=8)))
    script = (
        "import sys; from runtime.backends import create_backend; "
        f"create_backend('litert', open({str(model)!r}, 'rb').read()); print('loaded')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "loaded"
    assert "XNNPACK" not in done.stderr


def test_what_else_is_written_while_hiding_the_notice_is_passed_on(capfd, monkeypatch):
    monkeypatch.setattr(interpreter, "_notice_passed", False)
    with interpreter._delegate_notice_hidden():
        os.write(2, interpreter._DELEGATE_NOTICE + b"a warning of its own\n")
    assert capfd.readouterr().err == "a warning of its own\n"
    with interpreter._delegate_notice_hidden():  # only the first interpreter prints the notice
        os.write(2, interpreter._DELEGATE_NOTICE)
    assert capfd.readouterr().err == interpreter._DELEGATE_NOTICE.decode()
