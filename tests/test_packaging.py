"""The extras in pyproject.toml do what the README's install paths rely on.

Fast tests read pyproject.toml and README.md; the slow one asks PyPI whether the desktop extra
installs from wheels alone on every desktop platform (scripts/check_desktop_wheels.sh).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SELF = canonicalize_name(PROJECT["name"])

# platform_machine as each platform reports it, with the sys_platform that goes with it.
LINUX_X86_64 = ("linux", "x86_64")
LINUX_AARCH64 = ("linux", "aarch64")  # also 64-bit Raspberry Pi OS
LINUX_ARMV7L = ("linux", "armv7l")  # 32-bit Raspberry Pi OS
MACOS_ARM64 = ("darwin", "arm64")
WINDOWS_AMD64 = ("win32", "AMD64")
DESKTOPS = (LINUX_X86_64, LINUX_AARCH64, MACOS_ARM64, WINDOWS_AMD64)


def _environment(platform: tuple[str, str], python: str = "3.11") -> dict[str, str]:
    sys_platform, machine = platform
    return {
        **default_environment(),
        "sys_platform": sys_platform,
        "platform_machine": machine,
        "python_version": python,
        "python_full_version": f"{python}.0",
    }


def requirements(extra: str | None, platform: tuple[str, str]) -> dict[str, Requirement]:
    """The requirements ``pip install ".[extra]"`` asks for on ``platform``, self-references
    (``digit-kit[a,b]``) followed, by canonical name (the base dependencies included)."""
    found: dict[str, Requirement] = {}
    pending: list[tuple[str, str | None]] = [(text, None) for text in PROJECT["dependencies"]]
    extras, seen = [extra] if extra else [], set()
    while pending or extras:
        if not pending:
            name = extras.pop()
            if name not in seen:
                seen.add(name)
                pending = [(text, name) for text in PROJECT["optional-dependencies"][name]]
            continue
        text, from_extra = pending.pop()
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(
            {**_environment(platform), "extra": from_extra or ""}
        ):
            continue
        if canonicalize_name(req.name) == SELF:
            extras += sorted(req.extras)
        else:
            found[canonicalize_name(req.name)] = req
    return found


def readme_block(kind: str) -> list[str]:
    """The command lines between the README's ``<!-- pi-install-KIND -->`` markers, which
    scripts/pi_check.sh runs verbatim in its emulated Pis."""
    match = re.search(
        rf"<!-- pi-install-{kind} -->\n```bash\n(.*?)```\n<!-- /pi-install-{kind} -->", README, re.S
    )
    assert match, f"README.md has no pi-install-{kind} block"
    return match.group(1).strip().splitlines()


def test_base_install_has_no_opencv_and_no_interpreter():
    names = set(requirements(None, LINUX_AARCH64))
    assert names == {"numpy", "tflite", "flatbuffers"}


@pytest.mark.parametrize("extra", ["device-system", "litert-system"])
@pytest.mark.parametrize("platform", [LINUX_ARMV7L, LINUX_AARCH64])
def test_the_system_path_pulls_neither_numpy_nor_opencv_from_pypi(platform, extra):
    """apt's python3-numpy (1.24 on Bookworm) and python3-opencv must satisfy the system path."""
    reqs = requirements(extra, platform)
    assert not [name for name in reqs if "opencv" in name]
    assert reqs["numpy"] == Requirement(PROJECT["dependencies"][0])  # only the base range
    assert reqs["numpy"].specifier.contains("1.24.2")  # Debian Bookworm's python3-numpy


def test_litert_only_where_it_has_wheels():
    for platform in (LINUX_X86_64, LINUX_AARCH64, MACOS_ARM64, WINDOWS_AMD64):
        assert "ai-edge-litert" in requirements("device", platform), platform
        assert "ai-edge-litert" in requirements("litert-system", platform), platform
        assert requirements("litert-system", platform)["ml-dtypes"].specifier.contains("0.5.4")
    assert "ai-edge-litert" not in requirements("device", LINUX_ARMV7L)
    assert "ai-edge-litert" not in requirements("litert-system", LINUX_ARMV7L)


@pytest.mark.parametrize("platform", [LINUX_ARMV7L, LINUX_AARCH64])
def test_device_system_is_pure_python_whatever_the_kernel_says(platform):
    """32-bit Pi OS on a Pi 4 or 5 runs a 64-bit kernel: platform_machine says aarch64 over a
    32-bit Python, where LiteRT and ml_dtypes have no wheels. device-system must not pull them
    even then; the README's install adds litert-system where dpkg says arm64."""
    assert set(requirements("device-system", platform)) == {
        "numpy",
        "tflite",
        "flatbuffers",
        "paho-mqtt",
    }


def test_device_opencv_range_includes_debian_bookworm_and_is_headless():
    reqs = requirements("device", LINUX_AARCH64)
    assert "opencv-python" not in reqs  # the GUI build would clash with the headless one
    assert reqs["opencv-python-headless"].specifier.contains("4.6.0.66")


@pytest.mark.parametrize("platform", DESKTOPS)
def test_desktop_picks_the_tensorflow_build_with_wheels(platform):
    """tensorflow-cpu publishes x86_64 wheels only; on ARM the plain tensorflow is the CPU build."""
    reqs = requirements("desktop", platform)
    expected = "tensorflow" if platform[1] in ("aarch64", "arm64") else "tensorflow-cpu"
    assert {name for name in reqs if name.startswith("tensorflow")} == {expected}


def test_requires_python_covers_pi_os_bookworm_and_trixie():
    from packaging.specifiers import SpecifierSet

    assert all(v in SpecifierSet(PROJECT["requires-python"]) for v in ("3.11.2", "3.13.5"))


def test_readme_pi_install_paths_use_the_right_extras():
    wheels, system = readme_block("wheels"), readme_block("system")
    assert wheels == [
        "sudo apt install -y python3-venv",
        "python3 -m venv ~/digit-env",
        '~/digit-env/bin/pip install ".[device]"',
    ]
    assert system[0].startswith("sudo apt install -y ")
    assert {"python3-venv", "python3-numpy", "python3-opencv"} <= set(system[0].split()[4:])
    assert system[1] == "python3 -m venv --system-site-packages ~/digit-env"
    # LiteRT where dpkg, not the kernel, says the system is 64-bit.
    assert system[2] == (
        'extras=device-system; [ "$(dpkg --print-architecture)" = arm64 ] '
        "&& extras=device-system,litert-system"
    )
    assert system[3].startswith('~/digit-env/bin/pip install ".[$extras]" ')
    # apt's NumPy pinned: else LiteRT's ml_dtypes (0.7+ needs NumPy 2) makes pip put NumPy 2 in
    # the environment on Bookworm, and apt's OpenCV (built for NumPy 1.x) stops importing.
    assert "numpy==$(python3 -c 'import numpy; print(numpy.__version__)')" in system[3]


@pytest.mark.slow
def test_desktop_extra_resolves_to_wheels_on_every_desktop():
    """Asks PyPI (two to three minutes): Linux x86_64/aarch64, macOS arm64, Windows, for the
    oldest and newest Python the kit supports (the script alone also checks 3.12)."""
    script = ROOT / "scripts" / "check_desktop_wheels.sh"
    result = subprocess.run(
        ["bash", str(script), "--python", sys.executable, "--python-versions", "3.11,3.13"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout + result.stderr
