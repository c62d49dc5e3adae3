"""A missing service ends the run with one line saying what to install or start, before any test
runs (tests/services.py); tests that do not need it still run without it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NEEDY_TESTS = """
import pytest

@pytest.mark.postgres
def test_store():
    pass

@pytest.mark.redis
def test_fsm():
    pass

@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_either(db):
    pass

def test_plain():
    pass
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pytest(cwd: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def _says(result: subprocess.CompletedProcess[str], needle: str) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if needle in line]


def test_a_closed_port_is_one_line_per_service_and_no_test_runs(tmp_path: Path) -> None:
    port = _closed_port()
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        from tests import services

        services.POSTGRES = "postgresql://postgres@127.0.0.1:{port}/postgres"
        services.REDIS = "redis://127.0.0.1:{port}"
        pytest_plugins = ["tests.services"]
    """))
    (tmp_path / "test_needy.py").write_text(NEEDY_TESTS)

    result = _pytest(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    postgres = _says(result, "PostgreSQL is not reachable")
    redis = _says(result, "Redis is not reachable")
    assert len(postgres) == 1 and f"127.0.0.1:{port}" in postgres[0], output
    assert "apt-get install postgresql" in postgres[0], output
    assert len(redis) == 1 and f"127.0.0.1:{port}" in redis[0], output
    assert "apt-get install redis-server" in redis[0], output
    assert "passed" not in output and "Traceback" not in output and "ERROR" not in output, output

    # Without the tests that need them, the rest runs: a "postgres" parameter counts as a need.
    result = _pytest(tmp_path, "-m", "not postgres and not redis")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed, 3 deselected" in result.stdout, result.stdout


def test_missing_sip_binaries_end_the_real_suite_in_one_line(tmp_path: Path) -> None:
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    result = _pytest(ROOT, "tests/telephony/test_kamailio.py", path=str(empty_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    said = _says(result, "not installed")
    assert said and said[0].count("apt-get install kamailio sip-tester") == 1, output
    assert len(said) == 1 and "kamailio and sipp are not installed" in said[0], output
    assert "passed" not in output and "skipped" not in output and "Traceback" not in output
