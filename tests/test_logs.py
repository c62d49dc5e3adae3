"""Logs as an operator reads them: one line per event, key=value or JSON (NEXTSTEP_LOG_FORMAT),
domain values by name, no library chatter; read from real `nextstep` processes."""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import re
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from cli.logs import KeyValueFormatter, fields

ROOT = Path(__file__).resolve().parent.parent
FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def environment(cwd: Path, **env_vars: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env.update(PYTHONPATH=str(ROOT), NEXTSTEP_DATABASE_URL=f"sqlite://{cwd / 'db.sqlite3'}")
    env.update(env_vars)
    return env


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def listen_and_stop(cwd: Path, **env_vars: str) -> list[str]:
    """`nextstep sip-listen` until it says it listens, then SIGTERM: its log lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "sip-listen", cwd=cwd,
        env=environment(cwd, NEXTSTEP_SIP_LISTEN=f"127.0.0.1:{free_udp_port()}", **env_vars),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while "listening for SIP" not in (line := (await process.stderr.readline()).decode()):
                assert line, f"sip-listen ended before listening: {lines}"
                lines.append(line)
            lines.append(line)
            process.send_signal(signal.SIGTERM)
            _, rest = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, lines
    return [line.rstrip("\n") for line in lines + rest.decode().splitlines(keepends=True)]


def key_values(line: str) -> dict[str, str]:
    """A text log line back into its fields (values quoted as JSON strings where needed)."""
    pairs = FIELD.findall(line)
    assert " ".join(f"{k}={v}" for k, v in pairs) == line, f"{line!r} is not key=value fields"
    return {k: json.loads(v) if v.startswith('"') else v for k, v in pairs}


async def test_text_logs_are_one_event_per_line_in_key_value_fields(tmp_path: Path) -> None:
    lines = await listen_and_stop(tmp_path)
    events = [key_values(line) for line in lines]
    assert {"ts", "level", "logger", "msg"} <= set(events[0])
    listening = next(e for e in events if e["msg"].startswith("listening for SIP on 127.0.0.1:"))
    assert listening["level"] == "info" and listening["logger"] == "nextstep.sip"
    stopped = next(e for e in events if e["msg"].startswith("stopped"))
    # the listener's counters by name and value, not the dataclass's repr
    assert "received=0" in stopped["msg"] and "ListenerCounters(" not in stopped["msg"]


async def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    lines = await listen_and_stop(tmp_path, NEXTSTEP_LOG_FORMAT="json")
    events = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "msg"} <= set(e) for e in events)
    assert any(e["msg"].startswith("listening for SIP on 127.0.0.1:") for e in events)


async def test_a_bad_log_format_ends_with_one_line_naming_it(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "employees", cwd=tmp_path,
        env=environment(tmp_path, NEXTSTEP_LOG_FORMAT="xml"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert err.decode().splitlines() == [
        "nextstep: bad setting NEXTSTEP_LOG_FORMAT: Input should be 'text' or 'json'"
    ]


async def test_matplotlib_chatter_stays_out_of_the_log(tmp_path: Path) -> None:
    """A fresh font cache makes matplotlib announce it at INFO; a report's log stays quiet."""
    env = environment(tmp_path, MPLCONFIGDIR=str(tmp_path / "mpl"))
    for args in (["migrate"], ["report", "funnel", "--png", str(tmp_path / "f.png")]):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", *args, cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err
    assert (tmp_path / "f.png").stat().st_size > 0
    assert (tmp_path / "mpl").is_dir()  # matplotlib did build its cache in this run
    assert "matplotlib" not in err.decode()


class Mood(enum.Enum):
    GOOD = object()


class Stage(enum.Enum):
    NEW = "new"


@dataclass
class Figures:
    sent: int
    stage: Stage


def test_domain_values_render_by_name_in_message_and_fields() -> None:
    record = logging.LogRecord(
        "nextstep.test", logging.INFO, __file__, 1, "deal moved to %s, %r: %s",
        (Stage.NEW, Mood.GOOD, Figures(3, Stage.NEW)), None,
    )
    record.stage = Stage.NEW
    record.figures = Figures(2, Stage.NEW)
    event = fields(record)
    assert event["msg"] == "deal moved to new, 'GOOD': sent=3 stage=new"
    assert event["stage"] == "new" and event["figures"] == {"sent": 2, "stage": "new"}
    line = KeyValueFormatter().format(record)
    parsed = key_values(line)
    assert parsed["stage"] == "new"
    assert json.loads(parsed["figures"]) == {"sent": 2, "stage": "new"}


def test_a_traceback_stays_on_its_events_line() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = KeyValueFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: bad" in key_values(line)["exc"]
