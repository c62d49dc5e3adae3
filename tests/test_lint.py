"""ruff and mypy are part of the test command, so CI stays clean without a second command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    packages = [
        "bot", "handlers", "telephony", "storage", "config", "crm", "cli", "bench", "tests",
        "board", "sandbox", "mail",
    ]
    result = _run(str(BIN / "mypy"), *[p for p in packages if (ROOT / p).exists()])
    assert result.returncode == 0, result.stdout + result.stderr
