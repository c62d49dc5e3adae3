"""A running `nextstep demo` (a subprocess, stopped by its PID) and headless Debian chromium."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
START_BOUND = 90.0  # seconds: the process's time bound on a loaded machine (bench times it)


@dataclass
class Demo:
    process: subprocess.Popen[str]
    url: str
    first_line: str
    started_in: float
    db: Path  # its SQLite file: `nextstep` commands run against it as the demo's admin would


def read_line(process: subprocess.Popen[str], seconds: float) -> str:
    """The next line of its stdout, or "" when none came within `seconds`."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(seconds):
            return ""
    return process.stdout.readline()


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()  # its own PID: SIGTERM, the way the demo is told to stop
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        db = Path(folder) / "demo.sqlite3"
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "demo", "--db", str(db),
             "--listen", f"127.0.0.1:{port}"],
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            line = read_line(process, START_BOUND)
            if not line:
                stop(process)
                errors = process.stderr.read() if process.stderr else ""
                pytest.fail(f"nextstep demo printed nothing within {START_BOUND} s: {errors}")
            yield Demo(process, f"http://127.0.0.1:{port}", line, time.monotonic() - started, db)
        finally:
            stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


def open_page(browser: Browser, demo: Demo, *, width: int = 1100, locale: str = "ru-RU") -> Page:
    context = browser.new_context(viewport={"width": width, "height": 760}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(demo.url)
    return page
