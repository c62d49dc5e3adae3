"""Scale-out with Redis (NEXTSTEP_REDIS_URL): FSM state survives a restart, a webhook update
delivered to two processes is handled once, and two processes push every due task exactly once.

Each test takes a Redis database of its own (claimed with SET NX, wiped before and after), so
runs in parallel do not meet. Two Apps in one process would share the handler modules' routers,
so the second instance is a real `nextstep run` process, stopped by its PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from storage.models import ChatMessage, Contact, Employee, Role, Task
from tests.e2e.conftest import HarnessFactory
from tests.e2e.harness import free_port
from tests.e2e.test_runtime import make_due_tasks
from tests.fakes import FakeBotAPI, User

pytestmark = pytest.mark.redis  # checked before the run: tests/services.py

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379"
CLAIM_KEY = "nextstep-test:claimed"
APP_KEYS = ("fsm:*", "nextstep:*")  # aiogram's FSM and isolation keys, our update de-dup
SECRET = "shared-webhook-secret"
START_TIMEOUT = 60.0  # seconds for `nextstep run` to import, migrate and listen


async def _wipe(redis: Redis) -> None:
    for pattern in APP_KEYS:
        keys = [key async for key in redis.scan_iter(match=pattern, count=500)]
        if keys:
            await redis.delete(*keys)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis database no other test is using now, empty of the App's keys."""
    for db in range(1, 16):
        redis = Redis.from_url(f"{REDIS}/{db}")
        try:
            claimed = await redis.set(CLAIM_KEY, os.getpid(), nx=True, ex=900)  # type: ignore[misc]
            if not claimed:
                continue
            await _wipe(redis)
            try:
                yield f"{REDIS}/{db}"
            finally:
                await _wipe(redis)
                await redis.delete(CLAIM_KEY)
            return
        finally:
            await redis.aclose()
    pytest.fail("every Redis database 1-15 is claimed by another test run")


@contextlib.asynccontextmanager
async def nextstep_run(
    api: FakeBotAPI, db_url: str, redis_url: str, workdir: Path, name: str
) -> AsyncIterator[str]:
    """`nextstep run` in webhook mode on a port of its own; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env.update(
        PYTHONPATH=str(ROOT), NEXTSTEP_BOT_TOKEN=api.token, NEXTSTEP_TELEGRAM_API=api.base_url,
        NEXTSTEP_DATABASE_URL=db_url, NEXTSTEP_REDIS_URL=redis_url,
        NEXTSTEP_WEB_LISTEN=f"127.0.0.1:{port}", NEXTSTEP_WEBHOOK_URL=f"{base}/telegram/webhook",
        NEXTSTEP_WEBHOOK_SECRET=SECRET,
    )
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "run", cwd=workdir, env=env, stdout=log, stderr=log,
        )
        try:
            await _wait_healthy(process, base, log_path)
            yield base
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await process.wait()
            assert process.returncode == 0, await _tail(log_path)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _wait_healthy(process: asyncio.subprocess.Process, base: str, log_path: Path) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(START_TIMEOUT):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"nextstep run exited: {await _tail(log_path)}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)


async def _tail(log_path: Path) -> str:
    return (await asyncio.to_thread(log_path.read_text))[-3000:]


@contextlib.asynccontextmanager
async def two_processes(
    api: FakeBotAPI, db_url: str, redis_url: str, workdir: Path
) -> AsyncIterator[tuple[str, str]]:
    """Two `nextstep run` sharing the store and Redis; the second starts once the first is up
    (two migrations at once could meet SQLite's write lock)."""
    async with (
        nextstep_run(api, db_url, redis_url, workdir, "a") as first,
        nextstep_run(api, db_url, redis_url, workdir, "b") as second,
    ):
        yield first, second


async def metric(base: str, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        text = await response.text()
    found = re.search(rf"^nextstep_{name} (\S+)$", text, re.MULTILINE)
    assert found, f"no metric {name}"
    return float(found.group(1))


async def test_a_conversation_continues_after_a_restart_with_state_in_redis(
    make_harness: HarnessFactory, redis_url: str
) -> None:
    async with make_harness(redis_url=redis_url) as h:
        rep = await h.make_employee("rep", lang="en")
        asked = await h.say(rep.user, "/add")
        assert asked.text.startswith("New client. What is the name?")
        await h.restart()  # a MemoryStorage would forget that the rep is in /add
        named = await h.say(rep.user, "Olga Smirnova")
        assert named.text == "The phone number?"
        redis = Redis.from_url(redis_url)
        try:
            assert [key async for key in redis.scan_iter(match="fsm:*")]
        finally:
            await redis.aclose()


async def test_a_webhook_update_delivered_to_two_processes_is_handled_once(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with FakeBotAPI() as api, two_processes(api, db_url, redis_url, tmp_path) as bases:
        first, second = bases
        client = User(777_001, "Client")
        update = api.message(client, "Здравствуйте")
        hooks = [f"{first}/telegram/webhook", f"{second}/telegram/webhook"]
        # At once to both (Telegram retrying while the first is still at work), then again.
        deliveries = await asyncio.gather(
            *(api.post_update(url, update, secret_token=SECRET) for url in hooks)
        )
        for url in hooks:
            deliveries.append(await api.post_update(url, update, secret_token=SECRET))
        assert [d.status for d in deliveries] == [200] * 4
        assert await ChatMessage.filter(incoming=True).count() == 1
        assert await Contact.filter(tg_user_id=client.id).count() == 1
        assert len(api.messages_to(client.id)) == 1  # one greeting
        duplicates = [await metric(base, "updates_duplicate_total") for base in (first, second)]
        assert sum(duplicates) == 3 and min(duplicates) >= 1


async def test_two_processes_push_every_due_task_exactly_once(
    db_url: str, redis_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    # Twice as many tasks as one claim takes (Clockwork.batch = 200), falling due once both
    # processes tick: whichever claims first pushes its 200 at about 30 a second, so the other
    # claims the rest on its next tick, however late either process started on a busy machine.
    reps = [
        await Employee.create(name=f"Rep {n}", role=Role.REP, team="main", tg_id=900_000 + n)
        for n in range(70)
    ]
    tasks = await make_due_tasks(Crm(load_playbook(), clock), reps, per_employee=6)
    ids = [t.id for t in tasks]
    # The processes run on the system clock: not due until both are up.
    await Task.filter(id__in=ids).update(due_at=datetime.now(UTC) + timedelta(days=1))

    async with FakeBotAPI() as api, two_processes(api, db_url, redis_url, tmp_path) as bases:
        first, second = bases
        async with asyncio.timeout(30):
            for base in bases:
                while await metric(base, "scheduler_ticks_total") < 1:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
        await Task.filter(id__in=ids).update(due_at=datetime.now(UTC) - timedelta(minutes=1))

        def cards() -> Counter[str]:
            return Counter(
                name for c in api.calls("sendMessage")
                for name in re.findall(r"Client \d+-\d+", str(c.params.get("text")))[:1]
            )

        await api.wait_for(lambda _: sum(cards().values()) >= len(tasks), timeout=60)
        assert await Task.filter(pushed_at__isnull=True).count() == 0
        # Two more ticks of each: nothing is pushed again.
        ticks = [await metric(base, "scheduler_ticks_total") for base in (first, second)]
        async with asyncio.timeout(10):
            for base, seen in zip((first, second), ticks, strict=True):
                # Another process's counter: nothing to await but its HTTP endpoint.
                while await metric(base, "scheduler_ticks_total") < seen + 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
        pushed = [await metric(base, "pushes_sent_total") for base in (first, second)]

    counted = cards()
    assert len(counted) == len(tasks) and set(counted.values()) == {1}
    assert sum(pushed) == len(tasks)
    assert min(pushed) > 0, f"one process pushed everything: {pushed}"
