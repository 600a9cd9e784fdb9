"""System programs the tests drive (Mosquitto, Chromium): find them, or skip, or fail in CI.

A test that needs a program calls ``require(...)``. Without the program it is skipped with the
Debian package to install, unless ``DIGIT_KIT_REQUIRE_SYSTEM_TESTS=1`` (CI sets it), where a
missing program fails the test: CI must never pass by skipping what it was meant to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE_ENV = "DIGIT_KIT_REQUIRE_SYSTEM_TESTS"

# name -> (where Debian installs it, the apt package that brings it)
PROGRAMS = {
    "mosquitto": ("/usr/sbin/mosquitto", "mosquitto"),
    "chromium": ("/usr/bin/chromium", "chromium"),
    "chromedriver": ("/usr/bin/chromedriver", "chromium-driver"),
}


def require(name: str) -> str:
    """The path of system program ``name``; skips the test without it (fails it in CI)."""
    default, package = PROGRAMS[name]
    path = shutil.which(name) or (default if os.access(default, os.X_OK) else None)
    if path:
        return path
    message = f"{name} is not installed (Debian/Ubuntu: apt-get install {package})"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}; {REQUIRE_ENV}=1 requires the system tests to run")
    pytest.skip(message)


def require_module(name: str, extra: str) -> None:
    """Skip (or fail in CI) when a Python package the test needs is missing."""
    try:
        __import__(name)
    except ImportError:
        message = f"Python package {name} is missing (pip install -e '.[{extra}]')"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message}; {REQUIRE_ENV}=1 requires the system tests to run")
        pytest.skip(message)


class Mosquitto:
    """A Mosquitto broker of its own on 127.0.0.1:``port`` (no persistence), restartable."""

    def __init__(self, port: int, folder: Path) -> None:
        self.binary = require("mosquitto")
        self.port = port
        self.config = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        self.config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"log_dest file {self.log}\nlog_type error\nlog_type warning\nlog_type notice\n",
            encoding="utf-8",
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        import socket

        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {self.process.returncode}: {self.logs()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on port {self.port}: {self.logs()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,900",
)


@contextmanager
def chromium_driver() -> Iterator[object]:
    """A Selenium WebDriver on Debian's headless Chromium and chromedriver (no downloads)."""
    require_module("selenium", "dev")
    browser = require("chromium")
    driver_path = require("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="digit-kit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager (which downloads drivers) is never consulted.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
