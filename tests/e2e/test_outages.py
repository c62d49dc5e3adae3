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
from tests.fakes import Call, FakeBotAPI, User

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Running:
    api: FakeBotAPI
    process: asyncio.subprocess.Process
    web: str
    webhook: str | None = None
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
        update = self.api.command(User(user_id, "Client"), "start")
        if self.webhook is None:
            self.api.push_update(update)
        else:
            delivery = await self.api.post_update(self.webhook, update)
            assert delivery.status == 200, delivery

        def replied(call: Call) -> bool:
            return call.method == "sendMessage" and call.chat_id == user_id

        await self.api.wait_for(replied, timeout=60)

    def warnings(self, about: Callable[[str], bool]) -> list[str]:
        return [line for line in self.stderr if " level=warning " in line and about(line)]


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
        webhook = env.get("NEXTSTEP_WEBHOOK_URL")
        if webhook:
            env["NEXTSTEP_WEBHOOK_URL"] = webhook = webhook.format(port=port)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        running = Running(api, process, f"http://127.0.0.1:{port}", webhook)

        async def read() -> None:
            assert process.stderr is not None
            async for line in process.stderr:
                running.stderr.append(line.decode())

        reader = asyncio.create_task(read())
        try:
            # polling comes after deleteWebhook, the webhook is served before setWebhook
            await api.wait_for("setWebhook" if webhook else "deleteWebhook", timeout=60)
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


async def test_webhook_mode_resumes_after_telegram_was_away(tmp_path: Path) -> None:
    async with nextstep_run(
        tmp_path, NEXTSTEP_WEBHOOK_URL="http://127.0.0.1:{port}/hook"
    ) as bot:
        assert bot.webhook is not None
        await bot.api.go_away()
        # The reply cannot go out: the update fails (Telegram will deliver it again), with
        # no traceback, and the bot learns that Telegram is away.
        failed = await bot.api.post_update(
            bot.webhook, bot.api.command(User(501, "Client"), "start")
        )
        assert failed.status != 200
        await bot.until_health(503)
        await asyncio.sleep(3)
        await bot.api.come_back()
        await bot.until_health(200)  # the clock asked Telegram again
        await bot.answers(502)
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
