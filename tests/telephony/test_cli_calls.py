"""`nextstep sip-listen` alone records a replayed Kamailio capture and serves /healthz and
/metrics like `run`; `nextstep calls` lists what it recorded."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from cli.calls import _list_calls
from storage.models import Call, Employee, Role
from tests.conftest import T0
from tests.telephony.kamailio import free_udp_port
from tests.telephony.packets import kamailio_capture

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env |= {
        "NEXTSTEP_DATABASE_URL": f"sqlite://{tmp_path / 'calls.sqlite3'}",
        "NEXTSTEP_SIP_LISTEN": f"127.0.0.1:{port}",
        "NEXTSTEP_WEB_LISTEN": f"127.0.0.1:{_free_tcp_port()}",
        "PYTHONPATH": str(ROOT),
    }
    return env


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if needle in line:
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{needle!r} not seen from nextstep sip-listen")


def _get(port: int, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return answer.status, answer.read().decode()


def test_sip_listen_then_calls(tmp_path: Path) -> None:
    port = free_udp_port()
    env = _env(tmp_path, port)
    subprocess.run(
        [sys.executable, "-m", "cli", "employees", "add", "--name", "Agent", "--role", "rep",
         "--sip-ext", "101"], cwd=tmp_path, env=env, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    listen = subprocess.Popen(
        [sys.executable, "-m", "cli", "sip-listen"], cwd=tmp_path, env=env,
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        started = _wait_for_line(listen, "listening for SIP", timeout=30)
        web = re.search(r"web on port (\d+)", started)
        assert web is not None, started
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in kamailio_capture("raw"):
                sock.sendto(datagram, ("127.0.0.1", port))
        time.sleep(1.0)  # let the last datagrams be read before asking it to stop
        status, health = _get(int(web[1]), "/healthz")
        assert status == 200 and json.loads(health)["store"] == "ok"
        status, metrics = _get(int(web[1]), "/metrics")
        assert status == 200
        received = re.search(r"^nextstep_sip_received_total ([\d.e+]+)$", metrics, re.M)
        assert received is not None and float(received[1]) > 0, metrics
        listen.send_signal(signal.SIGTERM)
        assert listen.wait(timeout=30) == 0
    finally:
        if listen.poll() is None:
            listen.kill()
            listen.wait(timeout=10)
    listed = subprocess.run(
        [sys.executable, "-m", "cli", "calls", "--last", "50", "--json"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    calls = json.loads(listed.stdout)
    for call in calls:  # the agent's extension and both numbers as captured, every time
        assert (call["direction"], call["agent_ext"], call["caller"], call["callee"]) == (
            "out", "101", "101", "200"
        )
        assert call["started_at"] <= call["ended_at"]
    [answered] = [c for c in calls if c["disposition"] == "answered"]
    assert answered["started_at"] <= answered["answered_at"] <= answered["ended_at"]
    codes = sorted((c["disposition"], c["sip_code"]) for c in calls)
    assert codes == sorted(
        [
            ("answered", 200), ("busy", 486), ("busy", 600), ("busy", 603), ("cancelled", 487),
            ("no_answer", 408), ("no_answer", 480), ("unavailable", 404), ("unavailable", 503),
        ]
    )
    table = subprocess.run(
        [sys.executable, "-m", "cli", "calls"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "busy" in table.stdout and "486" in table.stdout


async def test_calls_json_gives_both_numbers_as_captured_and_as_e164(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = await Employee.create(name="Olga", role=Role.REP, sip_ext="101")
    await Call.create(
        call_id="in-1", direction="in", agent=agent, agent_ext="101", caller="8 (495) 123-45-67",
        callee="101", remote="8 (495) 123-45-67", remote_e164="+74951234567",
        disposition="answered", sip_code=200, started_at=T0,
        answered_at=T0 + timedelta(seconds=5), ended_at=T0 + timedelta(seconds=65),
        talk_seconds=60,
    )
    assert await _list_calls(5, as_json=True) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert {k: row[k] for k in ("direction", "agent", "agent_ext", "caller", "caller_e164",
                                "callee", "callee_e164")} == {
        "direction": "in", "agent": "Olga", "agent_ext": "101", "caller": "8 (495) 123-45-67",
        "caller_e164": "+74951234567", "callee": "101", "callee_e164": None,
    }
    assert (row["started_at"], row["answered_at"], row["ended_at"]) == (
        T0.isoformat(), (T0 + timedelta(seconds=5)).isoformat(),
        (T0 + timedelta(seconds=65)).isoformat(),
    )
