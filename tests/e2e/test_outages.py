"""A running `nextstep run` rides out Telegram or the database going away for a few seconds:
one warning, /healthz not ready meanwhile, and the bot answers again once they are back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import _pg_admin
from tests.e2e.harness import free_port
from tests.fakes import FakeBotAPI, User

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Running:
    api: FakeBotAPI
    process: asyncio.subprocess.Process
    web: str
    stderr: list[str] = field(default_factory=list)

    async def health(self) -> int:
        async with aiohttp.ClientSession() as session, session.get(f"{self.web}/healthz") as r:
            return r.status

    async def until_health(self, status: int) -> None:
        for _ in range(150):  # 30 s
            if await self.health() == status:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"/healthz never answered {status}")

    async def answers(self, user_id: int) -> None:
        """A new client writes /start and gets a reply."""
        seen = len(self.api.calls("sendMessage"))
        self.api.push_update(self.api.command(User(user_id, "Client"), "start"))

        def replied(call: object) -> bool:
            return getattr(call, "method", "") == "sendMessage" and getattr(
                call, "chat_id", None) == user_id

        await self.api.wait_for(replied, timeout=60)
        assert len(self.api.calls("sendMessage")) > seen

    def warnings(self, about: Callable[[str], bool]) -> list[str]:
        return [line for line in self.stderr if " WARNING " in line and about(line)]


@contextlib.asynccontextmanager
async def nextstep_run(tmp_path: Path, **env_vars: str) -> AsyncIterator[Running]:
    async with FakeBotAPI() as api:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
        env.update(
            PYTHONPATH=str(ROOT), NEXTSTEP_BOT_TOKEN=api.token, NEXTSTEP_TELEGRAM_API=api.base_url,
            NEXTSTEP_DATABASE_URL=f"sqlite://{tmp_path / 'db.sqlite3'}",
            NEXTSTEP_WEB_LISTEN=f"127.0.0.1:{port}",
        )
        env.update(env_vars)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        running = Running(api, process, f"http://127.0.0.1:{port}")

        async def read() -> None:
            assert process.stderr is not None
            async for line in process.stderr:
                running.stderr.append(line.decode())

        reader = asyncio.create_task(read())
        try:
            await api.wait_for("deleteWebhook", timeout=60)  # polling comes next
            await running.answers(500)
            yield running
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                assert await process.wait() == 0, "".join(running.stderr)[-3000:]
            await reader
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            reader.cancel()
    assert "Traceback" not in "".join(running.stderr), "".join(running.stderr)[-3000:]


async def test_polling_resumes_after_telegram_was_away(tmp_path: Path) -> None:
    async with nextstep_run(tmp_path) as bot:
        await bot.api.go_away()
        await bot.until_health(503)
        await asyncio.sleep(3)
        await bot.api.come_back()
        await bot.answers(501)
        await bot.until_health(200)
    assert len(bot.warnings(lambda line: "Telegram" in line)) == 1, "".join(bot.stderr)


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    name = f"nextstep_outage_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    yield name
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_the_bot_resumes_after_its_database_connections_were_cut(
    tmp_path: Path, pg_database: str
) -> None:
    url = f"postgres://postgres@127.0.0.1:5432/{pg_database}"
    async with nextstep_run(tmp_path, NEXTSTEP_DATABASE_URL=url) as bot:
        # Cut: no new connections, and the bot's open ones terminated.
        await _pg_admin(f'ALTER DATABASE "{pg_database}" WITH ALLOW_CONNECTIONS false')
        await _pg_admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{pg_database}'"
        )
        await bot.until_health(503)
        await asyncio.sleep(3)
        await _pg_admin(f'ALTER DATABASE "{pg_database}" WITH ALLOW_CONNECTIONS true')
        await bot.until_health(200)
        await bot.answers(501)
    assert len(bot.warnings(lambda line: "store" in line)) == 1, "".join(bot.stderr)
