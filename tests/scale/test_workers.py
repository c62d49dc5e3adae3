"""Three workers behind nginx on PostgreSQL and Redis, as deploy/ sets them up, under faults:
nothing a rep did or was due to get is lost or doubled."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tortoise import connections

from bench.webhook_rig import card_task, pick_outcome, press_data
from bot.callbacks import TaskAction
from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from storage.db import store
from storage.models import Employee, Role, Task, TaskStatus
from tests.e2e.test_runtime import make_due_tasks
from tests.fakes import User, WebhookDelivery
from tests.scale.cluster import Cluster, cluster
from tests.scale.gate import Hold
from tests.scale.stores import pg_admin
from tests.scale.worker import Worker, health, metric

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.workers]

Json = dict[str, Any]
FIRST_TG_ID = 810_000_001
TEST_SECONDS = 300


@contextlib.asynccontextmanager
async def the_store(c: Cluster) -> AsyncIterator[None]:
    """The test's own look at the workers' database (straight to PostgreSQL)."""
    async with store(f"postgres://postgres@127.0.0.1:5432/{_database(c)}"):
        yield


def _database(c: Cluster) -> str:
    return c.db_url.split("/")[-1].split("?")[0]


async def seed_reps(count: int, tasks_each: int, *, due_in: timedelta) -> list[User]:
    """Reps with Telegram ids and open tasks falling due `due_in` from now."""
    users = [User(FIRST_TG_ID + n, f"Rep {n}", language_code="ru") for n in range(count)]
    reps = [
        await Employee.create(name=u.first_name, role=Role.REP, team="main", tg_id=u.id)
        for u in users
    ]
    # make_due_tasks puts them 5 minutes after the clock's now.
    clock = FakeClock(datetime.now(UTC) + due_in - timedelta(minutes=5))
    await make_due_tasks(Crm(load_playbook(), clock), reps, tasks_each)
    return users


async def one_open_task_per_open_deal() -> list[Json]:
    """Open deals without exactly one open task (none, when the invariant holds)."""
    rows = await connections.get("default").execute_query_dict(
        """SELECT d.id, COUNT(t.id) AS open_tasks FROM deal d
           LEFT JOIN task t ON t.deal_id = d.id AND t.status = 'open'
           WHERE d.status = 'open' GROUP BY d.id HAVING COUNT(t.id) != 1"""
    )
    return list(rows)


async def outcomes_applied_twice() -> list[Json]:
    """Deals with more outcome events than closed tasks (a press applied twice)."""
    rows = await connections.get("default").execute_query_dict(
        """SELECT d.id FROM deal d WHERE
             (SELECT COUNT(*) FROM timeline_event e WHERE e.deal_id = d.id AND e.kind = 'outcome')
             > (SELECT COUNT(*) FROM task t WHERE t.deal_id = d.id AND t.status != 'open')"""
    )
    return list(rows)


def chat_calls(c: Cluster, since: int, chat_id: int) -> list[Any]:
    return [call for call in c.api.sent[since:] if call.chat_id == chat_id]


async def next_card(c: Cluster, user: User) -> int | None:
    """/next through nginx: the message id of the rep's card, None if he has nothing due."""
    since = len(c.api.sent)
    await c.deliver(c.api.command(user, "next"))
    for call in chat_calls(c, since, user.id):
        if call.method == "sendMessage" and card_task(call.result) is not None:
            return int(call.result["message_id"])
    return None


async def due_card(c: Cluster, user: User) -> tuple[int, int]:
    """/next's card for a rep who has work due: (its message id, its task id)."""
    card = await next_card(c, user)
    assert card is not None
    task_id = card_task(c.api.find_message(user.id, card))
    assert task_id is not None
    return card, task_id


def press(c: Cluster, user: User, card: int, task_id: int, button: str = "paid") -> Json:
    """The update of the rep pressing `button` on his card."""
    return c.api.callback(user, TaskAction(task=task_id, button=button).pack(), card)


def worker_of(c: Cluster, client_port: int) -> Worker:
    """The worker whose process has the TCP connection from `client_port` (Linux /proc)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == client_port:
                    inode = fields[9]
    assert inode is not None, f"no socket from port {client_port}"
    for worker in c.workers:
        fds = Path(f"/proc/{worker.pid}/fd")
        with contextlib.suppress(OSError):
            if any(
                str(fd.readlink()) == f"socket:[{inode}]" for fd in fds.iterdir()
                if fd.is_symlink()
            ):
                return worker
    raise AssertionError(f"no worker has the connection from port {client_port}")


@dataclass
class HeldPress:
    task_id: int
    update: Json
    answer: asyncio.Task[WebhookDelivery]  # nginx's answer to the delivery
    hold: Hold
    worker: Worker  # the worker handling it


async def press_held_mid_update(c: Cluster, user: User) -> HeldPress:
    """The rep presses Paid: the press is applied, then the card's edit is held, so the worker
    handling it is mid-update."""
    card, task_id = await due_card(c, user)
    hold = c.gate.hold(lambda method, _: method == "editMessageText")
    update = press(c, user, card, task_id)
    answer = asyncio.create_task(c.api.post_update(c.webhook, update, http_timeout=30))
    await asyncio.wait_for(hold.arrived.wait(), 30)
    return HeldPress(task_id, update, answer, hold, worker_of(c, hold.peer_ports[0]))


@pytest.fixture
async def folder(tmp_path: Path) -> Path:
    return tmp_path


async def test_three_workers_behind_nginx_register_the_webhook_once_and_serve(
    folder: Path,
) -> None:
    async with asyncio.timeout(TEST_SECONDS), cluster(folder) as c:
        assert len(c.api.calls("setWebhook")) == 1
        assert c.api.webhook is not None and c.api.webhook["secret_token"]
        leaders = [await metric(w.base, "leader") for w in c.workers]
        assert sorted(x or 0 for x in leaders) == [0, 0, 1] and None not in leaders, leaders
        https = f"https://127.0.0.1:{c.nginx.https_port}"
        assert await health(f"{https}/healthz") == 200  # TLS with the operator's certificate
        assert await health(f"{c.nginx.local}/healthz") == 200
        (c.nginx.static_root / "board.js").write_text("console.log('board')")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{https}/board/static/board.js", ssl=False) as response:
                assert response.status == 200 and "board" in await response.text()
            async with http.get(f"{https}/metrics", ssl=False) as response:
                assert response.status == 404  # per worker, not through the balancer
        client = User(820_000_001, "Client")
        await c.deliver(c.api.command(client, "start"))
        assert c.api.messages_to(client.id)
        # Every worker restarts: Telegram already has this webhook, nobody sets it again.
        stopped = await asyncio.gather(*(c.kill(w, signal.SIGTERM) for w in c.workers))
        assert stopped == [0] * len(c.workers)
        await asyncio.gather(*(c.start_worker(w) for w in c.workers))
        await c.leader()
        assert len(c.api.calls("setWebhook")) == 1


async def test_a_worker_killed_in_the_middle_of_presses_loses_and_doubles_nothing(
    folder: Path,
) -> None:
    async with asyncio.timeout(TEST_SECONDS), cluster(folder) as c, the_store(c):
        users = await seed_reps(6, 30, due_in=timedelta(days=1))
        # Due, and their pushes already out: the reps work them from /next, not behind 180
        # pushes queued at Telegram's one message a second per chat.
        now = datetime.now(UTC)
        await Task.all().update(due_at=now - timedelta(minutes=1), pushed_at=now)
        playbook = load_playbook()
        # Long enough after the kill for a rep whose update died with the worker: his lock
        # (ISOLATION_SECONDS) and the update's claim run out, then he goes on.
        # On a loaded machine a rep may need longer than that: he goes on, up to a hard bound,
        # until he has pressed after the kill.
        stop_at, hard_stop = time.monotonic() + 30, time.monotonic() + 75
        redelivered = Counter[int]()
        killed_at: list[float] = []
        went_on: set[int] = set()

        async def rep(user: User, rng: random.Random) -> None:
            card = await next_card(c, user)
            while card is not None:
                now = time.monotonic()
                if now >= hard_stop or (now >= stop_at and user.id in went_on):
                    break
                task_id = card_task(c.api.find_message(user.id, card))
                if task_id is None:
                    break
                for data in press_data(playbook, task_id, pick_outcome(rng)):
                    attempts = await c.deliver(c.api.callback(user, data, card, strict=False))
                    redelivered[user.id] += len(attempts) - 1
                if killed_at and now > killed_at[0]:
                    went_on.add(user.id)
                card = await next_card(c, user)  # the retry: whatever happened, go on

        async def killer() -> None:
            await asyncio.sleep(4)
            killed_at.append(time.monotonic())
            await c.kill(c.workers[0])

        work = asyncio.gather(*(rep(u, random.Random(n)) for n, u in enumerate(users)))
        await killer()
        after_kill = datetime.now(UTC)
        await work
        assert await one_open_task_per_open_deal() == []
        assert await outcomes_applied_twice() == []
        # Every rep went on after the kill (through the two workers left): he pressed after
        # it, or he ran out of due work (the random outcomes may close all his deals first),
        # and then nothing due is left waiting for him.
        for user in users:
            rep_id = (await Employee.get(tg_id=user.id)).id
            pressed = await Task.filter(closed_by_id=rep_id, closed_at__gte=after_kill).count()
            waiting = await Task.filter(
                assignee_id=rep_id, status=TaskStatus.OPEN, due_at__lte=datetime.now(UTC)
            ).count()
            assert pressed > 0 or waiting == 0, (user, waiting)
        assert not c.api.violations, c.api.violations[:3]
        print(f"redelivered after the kill: {sum(redelivered.values())}", flush=True)


async def test_a_worker_killed_between_receiving_an_update_and_answering_loses_nothing(
    folder: Path,
) -> None:
    """The worker answers 200 only once the update is handled (handle before answering):
    killed before that, nginx answers 502 and Telegram's retry is handled by another worker,
    once; after a 200 the press is in the store even if every worker dies at once."""
    async with asyncio.timeout(TEST_SECONDS), cluster(folder) as c, the_store(c):
        (user,) = await seed_reps(1, 3, due_in=timedelta(minutes=-1))
        held = await press_held_mid_update(c, user)
        update = held.update
        await c.kill(held.worker)
        await asyncio.sleep(0.5)
        held.hold.released.set()
        assert (await held.answer).status == 502  # nginx: the worker died before answering
        attempts = await c.deliver(update)  # Telegram delivers it again, to another worker
        assert attempts[-1].status == 200
        task = await Task.get(id=held.task_id)
        assert task.status == TaskStatus.DONE and task.outcome == "paid"
        assert await one_open_task_per_open_deal() == []
        assert await outcomes_applied_twice() == []
        answers = [
            call for call in c.api.calls("answerCallbackQuery")
            if call.params.get("callback_query_id") == update["callback_query"]["id"]
        ]
        assert len(answers) == 1  # the retry's: the killed worker's never reached Telegram

        # A 200 means handled: press, get the 200, kill every worker at once.
        card, task_id = await due_card(c, user)
        assert (await c.deliver(press(c, user, card, task_id)))[-1].status == 200
        await asyncio.gather(*(c.kill(w) for w in c.workers if w.alive))
        assert (await Task.get(id=task_id)).status == TaskStatus.DONE


async def test_the_leader_killed_is_replaced_within_10_s_and_due_pushes_go_out_once(
    folder: Path,
) -> None:
    async with asyncio.timeout(TEST_SECONDS), cluster(folder) as c, the_store(c):
        (user,) = await seed_reps(1, 12, due_in=timedelta(days=1))
        # Whichever worker claims the pushes is stuck sending them when it is killed.
        hold = c.gate.hold(lambda method, params: (
            method == "sendMessage" and str(params.get("chat_id")) == str(user.id)
        ))
        await Task.all().update(due_at=datetime.now(UTC) - timedelta(minutes=1))
        await asyncio.wait_for(hold.arrived.wait(), 30)
        pusher = worker_of(c, hold.peer_ports[0])
        leader = await c.leader()
        killed_at = time.monotonic()
        await c.kill(leader)
        if pusher is not leader:
            await c.kill(pusher)
        await asyncio.sleep(0.5)  # the gate sees their connections closed
        hold.released.set()  # what the dead sent was never delivered; the rest goes through
        successor = await c.leader(seconds=15)
        took = time.monotonic() - killed_at
        assert successor is not leader and took <= 10, took

        def cards() -> Counter[int]:
            return Counter(
                task for call in c.api.calls("sendMessage")
                if call.chat_id == user.id and (task := card_task(call.result)) is not None
            )

        await c.api.wait_for(lambda _: len(cards()) >= 12, timeout=60)
        await asyncio.sleep(6)  # more ticks and claim checks: nothing goes out again
        assert set(cards().values()) == {1}, cards()
        assert await Task.filter(push_claim__isnull=False).count() == 0
        recovered = [await metric(w.base, "pushes_recovered_total") for w in c.workers if w.alive]
        assert sum(r or 0 for r in recovered) > 0


async def test_redis_restarted_while_a_rep_types_a_time_keeps_his_conversation(
    folder: Path,
) -> None:
    async with asyncio.timeout(TEST_SECONDS), cluster(folder) as c, the_store(c):
        (user,) = await seed_reps(1, 2, due_in=timedelta(minutes=-1))
        card, task_id = await due_card(c, user)
        since = len(c.api.sent)
        await c.deliver(press(c, user, card, task_id, "call_back"))
        asked = [call for call in chat_calls(c, since, user.id) if call.method == "sendMessage"]
        assert asked and "Когда следующий контакт" in str(asked[-1].params.get("text")), asked
        await c.redis.stop()
        typed = c.api.message(user, "пн 11:00")
        during = await c.api.post_update(c.webhook, typed, http_timeout=30)
        assert during.status != 200  # not lost: Telegram delivers it again
        await c.redis.start()
        await c.deliver(typed)
        deal_id = (await Task.get(id=task_id)).deal_id  # type: ignore[attr-defined]
        task = await Task.get(deal_id=deal_id, status="open")
        assert task.id != task_id and task.planned_by == "call_back"
        assert await one_open_task_per_open_deal() == []


async def test_workers_ride_out_their_database_connections_cut_and_lose_no_update(
    folder: Path,
) -> None:
    async with asyncio.timeout(TEST_SECONDS), cluster(folder) as c:
        database = _database(c)
        await pg_admin(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        await pg_admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
        )
        await c.until_health(503)
        client = User(820_000_002, "Client")
        update = c.api.command(client, "start")
        during = await c.api.post_update(c.webhook, update, http_timeout=30)
        assert during.status != 200
        await pg_admin(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
        await c.until_health(200)
        await c.deliver(update)
        assert len(c.api.messages_to(client.id)) == 1
        for worker in c.workers:
            assert "Traceback" not in worker.log(), worker.log()[-3000:]


async def test_sigterm_lets_the_update_in_flight_finish_and_exits_within_10_s(
    folder: Path,
) -> None:
    async with asyncio.timeout(TEST_SECONDS), cluster(folder) as c, the_store(c):
        (user,) = await seed_reps(1, 2, due_in=timedelta(minutes=-1))
        held = await press_held_mid_update(c, user)
        worker = held.worker
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(2)  # the update is still in flight when the worker is told to stop
        assert worker.alive, worker.log()[-3000:]
        signalled = time.monotonic()
        held.hold.released.set()
        assert (await held.answer).status == 200
        async with asyncio.timeout(10):
            assert await worker.process.wait() == 0, worker.log()[-3000:]
        assert time.monotonic() - signalled < 10
        assert (await Task.get(id=held.task_id)).status == TaskStatus.DONE
        # The others go on serving.
        assert await next_card(c, user) is not None


async def test_workers_behind_pgbouncer_in_transaction_mode(folder: Path) -> None:
    """Migrations, the leader's lease, presses and due pushes through PgBouncer's transaction
    mode (asyncpg's statement cache off through the URL, transaction-scoped locks only)."""
    async with (
        asyncio.timeout(TEST_SECONDS), cluster(folder, workers=2, pgbouncer=True) as c,
        the_store(c),
    ):
        assert "statement_cache_size=0" in c.db_url
        users = await seed_reps(2, 5, due_in=timedelta(minutes=-1))
        await c.api.wait_for(
            lambda _: sum(
                1 for call in c.api.calls("sendMessage") if card_task(call.result) is not None
            ) >= 10,
            timeout=60,
        )
        for user in users:
            card, task_id = await due_card(c, user)
            await c.deliver(press(c, user, card, task_id))
            assert (await Task.get(id=task_id)).status == TaskStatus.DONE
        leader = await c.leader()
        await c.kill(leader)
        assert (await c.leader(seconds=15)) is not leader
        assert await one_open_task_per_open_deal() == []
