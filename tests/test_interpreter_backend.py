"""The TFLite interpreter backend's own behaviour (its numbers are checked in test_numpy_backend)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import tflite_builder as tb

from runtime.backends import interpreter


def _load_in_a_process(tmp_path, redirect: str = "") -> subprocess.CompletedProcess:
    model = tmp_path / "model.tflite"
    model.write_bytes(tb.float_mlp(tb.FloatMlp.random(seed=3, hidden=8)))
    script = (
        "from runtime.backends import create_backend; "
        f"create_backend('litert', open({str(model)!r}, 'rb').read()); print('loaded')"
    )
    command = f'{sys.executable} -c "{script}" {redirect}'
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)


def test_litert_loads_a_model_without_its_delegate_notice(tmp_path):
    pytest.importorskip("ai_edge_litert")
    done = _load_in_a_process(tmp_path)
    assert done.stdout.strip() == "loaded"
    assert "XNNPACK" not in done.stderr


def test_a_model_loads_with_stderr_closed(tmp_path):
    pytest.importorskip("ai_edge_litert")
    assert _load_in_a_process(tmp_path, "2>&-").stdout.strip() == "loaded"


def test_what_else_is_written_while_hiding_the_notice_is_passed_on(capfd, monkeypatch):
    monkeypatch.setattr(interpreter, "_notice_passed", set())
    with interpreter._delegate_notice_hidden("one library"):
        os.write(2, interpreter._DELEGATE_NOTICE + b"a warning of its own\n")
    assert capfd.readouterr().err == "a warning of its own\n"
    with interpreter._delegate_notice_hidden("another library"):  # prints its own notice
        os.write(2, interpreter._DELEGATE_NOTICE)
    assert capfd.readouterr().err == ""
    with interpreter._delegate_notice_hidden("one library"):  # only its first interpreter does
        os.write(2, interpreter._DELEGATE_NOTICE)
    assert capfd.readouterr().err == interpreter._DELEGATE_NOTICE.decode()


def test_a_failed_load_leaves_the_next_one_hidden(capfd, monkeypatch):
    monkeypatch.setattr(interpreter, "_notice_passed", set())
    with pytest.raises(RuntimeError), interpreter._delegate_notice_hidden("a library"):
        raise RuntimeError("cannot load")
    with interpreter._delegate_notice_hidden("a library"):
        os.write(2, interpreter._DELEGATE_NOTICE)
    assert capfd.readouterr().err == ""
