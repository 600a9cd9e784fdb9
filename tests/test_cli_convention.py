"""Every console script follows runtime.cli_common's convention: exit codes, error lines, --help."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from conftest import REPO

from runtime import cli_common, stderr_capture

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
# For each script, arguments naming an input that does not exist.
MISSING_INPUT = {
    "digit-train": ["--data", "/nonexistent/mnist", "--out", "{tmp}/run"],
    "digit-convert": ["/nonexistent/model.keras", "--out", "{tmp}/out"],
    "digit-classify": ["/nonexistent/digit.png", "--model", "/nonexistent/model.tflite"],
    "digit-camera": ["--model", "/nonexistent/model.tflite", "--source", "{tmp}", "--headless"],
    "digit-sample-video": ["{tmp}/clip.mkv", "--frames", "1", "--data", "/nonexistent/mnist"],
}


def entry_point(script: str):
    module, function = SCRIPTS[script].split(":")
    return getattr(importlib.import_module(module), function)


def run(script: str, args: list[str]) -> subprocess.CompletedProcess:
    module = SCRIPTS[script].split(":")[0]
    code = f"import sys, {module} as m; sys.exit(m.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_every_script_is_covered():
    assert set(SCRIPTS) == set(MISSING_INPUT)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_names_the_script_and_shows_defaults(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        entry_point(script)(["--help"])
    assert exit_info.value.code == cli_common.EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {script}")
    assert "(default:" in out


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_unknown_flag_is_a_usage_error(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        entry_point(script)(["--no-such-flag"])
    assert exit_info.value.code == cli_common.EXIT_BAD_INPUT
    assert f"{script}: error:" in capsys.readouterr().err


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_missing_input_is_one_error_line_and_exit_2(script, tmp_path):
    args = [arg.format(tmp=tmp_path) for arg in MISSING_INPUT[script]]
    done = run(script, args)
    assert done.returncode == cli_common.EXIT_BAD_INPUT, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith(f"{script}: error:")]
    assert len(errors) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_exit_code_table_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    for code in (0, 1, 2, 130, 141):
        assert f"| {code} |" in readme


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_script_stops_quietly_when_its_output_is_closed(script):
    # The wrapper every console script carries: its output's reader going away (| head) is
    # exit 141 with no traceback.
    wrapper_code = cli_common.console_script(lambda: 0).__code__
    assert entry_point(script).__code__ is wrapper_code


def test_a_closed_output_is_exit_141_without_a_traceback():
    code = (
        "import sys; from runtime.cli_common import console_script\n"
        "@console_script\n"
        "def main():\n"
        "    for _ in range(100000): print('line ' * 20)\n"
        "    return 0\n"
        "sys.exit(main())"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.readline()
    process.stdout.close()  # like `| head -1`
    assert process.wait(timeout=60) == cli_common.EXIT_OUTPUT_CLOSED
    assert b"Traceback" not in process.stderr.read()


def test_a_name_stdout_cannot_encode_is_escaped_instead_of_a_traceback():
    code = (
        "import sys; from runtime.cli_common import console_script\n"
        "@console_script\n"
        "def main():\n"
        "    print('with space \\u00fc \\u6570.png: 7')\n"
        "    return 0\n"
        "sys.exit(main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C"},
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == b"with space \\xfc \\u6570.png: 7\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_on_a_full_disk_is_one_error_line_and_exit_2():
    code = (
        "import sys; from runtime.cli_common import console_script\n"
        "PROG = 'digit-x'\n"
        "@console_script\n"
        "def main():\n"
        "    for _ in range(100000): print('line ' * 20)\n"
        "    return 0\n"
        "sys.exit(main())"
    )
    with open("/dev/full", "w") as full:  # every write: No space left on device
        done = subprocess.run(
            [sys.executable, "-c", code], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert done.returncode == cli_common.EXIT_BAD_INPUT
    assert done.stderr == "digit-x: error: cannot write the output: No space left on device\n"


def test_stderr_caught_catches_what_c_writes_and_passes_it_on_when_the_block_raises(capfd):
    with stderr_capture.stderr_caught() as caught:
        os.write(2, b"a C library's line\n")  # below sys.stderr, as libpng and absl write
    assert caught.data == b"a C library's line\n"
    assert capfd.readouterr().err == ""
    stderr_capture.pass_on_stderr(b"kept\n")
    with pytest.raises(RuntimeError), stderr_capture.stderr_caught():
        os.write(2, b"before the failure\n")
        raise RuntimeError
    assert capfd.readouterr().err == "kept\nbefore the failure\n"


def test_stderr_is_pointed_back_when_an_interrupt_comes_while_it_is(monkeypatch):
    # A Ctrl-C while the capture ended (flushing before pointing descriptor 2 back) left it on
    # the deleted temporary file: all the process wrote after, "interrupted" too, was lost.
    before = os.fstat(2)
    calls = iter([None, KeyboardInterrupt])

    def flush_then_interrupt() -> None:
        if (outcome := next(calls, None)) is not None:
            raise outcome

    monkeypatch.setattr(stderr_capture, "flush_stderr", flush_then_interrupt)
    with pytest.raises(KeyboardInterrupt), stderr_capture.stderr_caught():
        os.write(2, b"")
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_print_error_keeps_one_line(capsys):
    cli_common.print_error("digit-x", "first line\nsecond line")
    assert capsys.readouterr().err == "digit-x: error: first line\n"


def test_more_threads_than_cpus_are_capped_to_them_and_none_refused():
    from runtime.backends import max_threads

    # A million threads exhausted the system before the interpreter noticed (exit 139); then
    # more than the CPUs were refused, so a command written for a bigger device did not start.
    assert cli_common.thread_count("1000000") == max_threads()
    assert cli_common.thread_count("1") == 1
    with pytest.raises(argparse.ArgumentTypeError):
        cli_common.thread_count("0")


@pytest.mark.parametrize(
    ("script", "args", "said"),
    [
        ("digit-train", ["--seed", "-1"], "--seed: must be 0 to 4,294,967,295"),
        ("digit-convert", ["m.keras", "--seed", str(2**32)], "--seed: must be 0 to"),
        ("digit-convert", ["m.keras", "--representative-size", "5"], "must be 10 to 60,000"),
    ],
)
def test_numbers_the_work_would_refuse_late_are_usage_errors(script, args, said, capsys):
    """Checked before any data or model is loaded, not by NumPy or scikit-learn later."""
    with pytest.raises(SystemExit) as exit_info:
        entry_point(script)(args)
    assert exit_info.value.code == cli_common.EXIT_BAD_INPUT
    assert said in capsys.readouterr().err


def test_ctrl_c_while_a_script_loads_is_one_line_and_exit_130(monkeypatch, capsys):
    """Before a script's own handling of Ctrl-C begins: importing its libraries, parsing."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_common.importlib, "import_module", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli_common.run_module_main("runtime.cli")
    assert exit_info.value.code == cli_common.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "python -m runtime: error: interrupted\n"

    script = cli_common.console_script(interrupted)
    assert script() == cli_common.EXIT_INTERRUPTED
    assert capsys.readouterr().err.endswith("error: interrupted\n")


def test_sigterm_stops_a_script_as_ctrl_c_does_with_exit_143(capsys):
    """Train and convert died at once on SIGTERM (exit 143, no word, temporary files left):
    it now raises where the script runs, so its cleanup runs and it says why it stopped."""
    import os
    import signal

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("the test runner handles SIGTERM itself")
    cleaned = []

    def work() -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100):  # the handler raises at the next bytecode
                time.sleep(0.01)
            return cli_common.EXIT_OK
        finally:
            cleaned.append(True)

    assert cli_common.console_script(work)() == cli_common.EXIT_TERMINATED
    assert cleaned == [True]
    assert capsys.readouterr().err.endswith("error: stopped by SIGTERM\n")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_output_paths_are_tried_before_the_work_starts(tmp_path):
    a_file = tmp_path / "taken.png"
    a_file.write_bytes(b"x")
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a folder"):
        cli_common.output_dir(str(a_file))
    with pytest.raises(argparse.ArgumentTypeError, match="cannot write into"):
        cli_common.output_dir(str(a_file / "below"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder, not a file"):
        cli_common.output_file(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match="cannot write into"):
        cli_common.output_file(str(a_file / "clip.mp4"))
    assert cli_common.output_dir(str(tmp_path / "new" / "run")) == tmp_path / "new" / "run"
    assert cli_common.output_file(str(tmp_path / "out" / "r.json")) == tmp_path / "out" / "r.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.png"]  # nothing left behind
    for empty in ("", "  "):  # "" was this folder: a whole run written where the shell stood
        with pytest.raises(argparse.ArgumentTypeError, match="empty"):
            cli_common.output_dir(empty)
        with pytest.raises(argparse.ArgumentTypeError, match="empty"):
            cli_common.output_file(empty)


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("digit-convert", ["{tmp}/model.keras", "--out", "{tmp}/taken.png"]),
        ("digit-sample-video", ["{tmp}/taken.png/clip.mp4"]),
        ("digit-train", ["--out", "{tmp}/taken.png", "--data", "{tmp}/no-mnist"]),
    ],
)
def test_an_output_that_cannot_be_written_is_a_usage_error(script, args, tmp_path, capsys):
    # These failed with a traceback after the whole conversion, video or training.
    (tmp_path / "taken.png").write_bytes(b"x")
    with pytest.raises(SystemExit) as exit_info:
        entry_point(script)([arg.format(tmp=tmp_path) for arg in args])
    assert exit_info.value.code == cli_common.EXIT_BAD_INPUT
    assert f"{script}: error: argument" in capsys.readouterr().err


def test_an_unexpected_os_error_is_one_line_naming_its_file(capsys):
    @cli_common.console_script
    def main() -> int:
        raise PermissionError(13, "Permission denied", "/srv/meter/frames")

    assert main() == cli_common.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.endswith("error: /srv/meter/frames: Permission denied\n") and "Traceback" not in err


def test_a_closed_stdout_discards_the_output_instead_of_a_traceback(monkeypatch):
    # `digit-classify page.png >&-` died on its first print: Python's stdout is None.
    monkeypatch.setattr(sys, "stdout", None)

    @cli_common.console_script
    def main() -> int:
        print("3 confidence 1.000")
        return cli_common.EXIT_OK

    assert main() == cli_common.EXIT_OK
