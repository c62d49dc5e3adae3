"""`nextstep sip-listen` alone records a replayed Kamailio capture; `nextstep calls` lists it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.telephony.kamailio import free_udp_port
from tests.telephony.packets import kamailio_capture

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env |= {
        "NEXTSTEP_DATABASE_URL": f"sqlite://{tmp_path / 'calls.sqlite3'}",
        "NEXTSTEP_SIP_LISTEN": f"127.0.0.1:{port}",
    }
    return env


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if needle in line:
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{needle!r} not seen from nextstep sip-listen")


def test_sip_listen_then_calls(tmp_path: Path) -> None:
    port = free_udp_port()
    env = _env(tmp_path, port)
    listen = subprocess.Popen(
        [sys.executable, "-m", "cli", "sip-listen"], cwd=tmp_path, env=env,
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        _wait_for_line(listen, "listening for SIP", timeout=30)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in kamailio_capture("raw"):
                sock.sendto(datagram, ("127.0.0.1", port))
        time.sleep(1.0)  # let the last datagrams be read before asking it to stop
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
