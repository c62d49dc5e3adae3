"""The engine's outcome press as bare SQL through the drivers (asyncpg / aiosqlite): the same
reads, decision and writes as crm.engine.apply_outcome, which the store bench holds Tortoise to,
and which the telephony bench uses to write captured calls' presses."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiosqlite
import asyncpg

from bench.dataset import DatasetInfo, sqlite_path
from crm.context import Crm
from crm.engine import Decision, decide
from crm.permissions import can_act_on
from storage.db import SQLITE_PRAGMAS
from storage.models import DealStatus, Employee

# Connections of the raw pool: the most presses any bench runs at once.
RAW_POOL_SIZE = 16
TERMINAL = {DealStatus.WON, DealStatus.LOST, DealStatus.ARCHIVED}


@dataclass(frozen=True)
class Work:
    """One press to apply: the task, who presses, the button, the moment."""

    task_id: int
    actor: Employee
    button: str
    when: datetime


class RawDb(Protocol):
    def transaction(self) -> contextlib.AbstractAsyncContextManager[RawTx]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Sequence[Any] | None: ...


class RawTx(Protocol):
    async def execute(self, sql: str, *args: Any) -> int: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...


LOAD_SQL = """SELECT t.status, d.id, d.stage, d.no_answer_count, d.owner_id, d.team, d.version,
                     d.title, c.id, c.tz
              FROM task t JOIN deal d ON d.id = t.deal_id JOIN contact c ON c.id = d.contact_id
              WHERE t.id = ?"""
CLOSE_TASK = (
    "UPDATE task SET status = 'done', closed_at = ?, outcome = ?, closed_by_id = ?"
    " WHERE id = ? AND status = 'open'"
)
NEW_TASK = (
    "INSERT INTO task (deal_id, kind, status, due_at, assignee_id, team, attempt,"
    " planned_by, created_at) VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?) RETURNING id"
)
EVENT = "INSERT INTO timeline_event (deal_id, kind, text, data, actor_id, at) VALUES "
NEW_DEAL = (
    "INSERT INTO deal (contact_id, title, amount, stage, status, source, tags,"
    " no_answer_count, owner_id, team, version, created_at, stage_changed_at)"
    " VALUES (?, ?, 0, ?, 'open', 'repeat', '[]', 0, ?, ?, 1, ?, ?) RETURNING id"
)


Stamp = Callable[[datetime], Any]  # a moment as the driver takes it


class _Stale(Exception):
    pass


async def raw_outcome(db: RawDb, crm: Crm, work: Work, stamp: Callable[[datetime], Any]) -> bool:
    """apply_outcome's reads, decision and writes with the driver: what Tortoise is held to."""
    pb = crm.playbook
    row = await db.fetchrow(LOAD_SQL, work.task_id)
    if row is None:
        return False
    task_status, deal_id, stage, no_answer, owner_id, team, version, title, contact_id, tz = row
    if not can_act_on(work.actor, owner_id, team) or task_status != "open":
        return False
    now = crm.now()
    decision = decide(pb, stage, no_answer, work.button, now, work.when)
    if not isinstance(decision, Decision):
        return False
    due = crm.snap(decision.due, tz) if decision.due else None
    spec = pb.buttons[work.button]
    attempt = decision.no_answer_count if spec.ladder else 0
    actor = work.actor.id
    try:
        async with db.transaction() as tx:
            if not await tx.execute(CLOSE_TASK, stamp(now), work.button, actor, work.task_id):
                raise _Stale
            sets = ["stage = ?", "status = ?", "no_answer_count = ?", "version = ?"]
            args: list[Any] = [
                decision.stage,
                str(decision.status),
                decision.no_answer_count,
                version + 1,
            ]
            if decision.stage != stage:
                sets.append("stage_changed_at = ?")
                args.append(stamp(now))
            if decision.status in TERMINAL:
                sets.append("closed_at = ?")
                args.append(stamp(now))
            if not await tx.execute(
                f"UPDATE deal SET {', '.join(sets)} WHERE id = ? AND version = ?",
                *args,
                deal_id,
                version,
            ):
                raise _Stale
            if due is not None and decision.task_kind:
                await tx.fetchval(
                    NEW_TASK,
                    deal_id,
                    decision.task_kind,
                    stamp(due),
                    owner_id,
                    team,
                    attempt,
                    work.button,
                    stamp(now),
                )
            data = {
                "button": work.button,
                "source": "bot",
                "reason": None,
                "due": due.isoformat() if due else None,
                "attempt": attempt or None,
            }
            events: list[Any] = [deal_id, "outcome", "", json.dumps(data), actor, stamp(now)]
            if decision.stage != stage:
                events += [
                    deal_id,
                    "stage",
                    "",
                    json.dumps({"from": stage, "to": decision.stage}),
                    actor,
                    stamp(now),
                ]
            marks = ", ".join(["(?, ?, ?, ?, ?, ?)"] * (len(events) // 6))
            await tx.execute(EVENT + marks, *events)
            if decision.status == DealStatus.WON:
                await _raw_repeat_sale(
                    tx, crm, contact_id, title, owner_id, team, tz, deal_id, stamp
                )
    except _Stale:
        return False
    return True


async def _raw_repeat_sale(
    tx: RawTx,
    crm: Crm,
    contact_id: int,
    title: str,
    owner_id: int,
    team: str,
    tz: str | None,
    won_deal: int,
    stamp: Callable[[datetime], Any],
) -> None:
    now = crm.now()
    await tx.execute("UPDATE contact SET last_purchase_at = ? WHERE id = ?", stamp(now), contact_id)
    stage = crm.playbook.initial_stage.key
    deal_id = await tx.fetchval(
        NEW_DEAL, contact_id, title, stage, owner_id, team, stamp(now), stamp(now)
    )
    due = crm.snap(now + timedelta(days=crm.playbook.automations.repeat_sale_days), tz)
    await tx.fetchval(
        NEW_TASK, deal_id, "repeat_sale", stamp(due), owner_id, team, 0, None, stamp(now)
    )
    data = {"stage": stage, "source": "repeat", "repeat_of": won_deal}
    await tx.execute(
        EVENT + "(?, ?, ?, ?, ?, ?)", deal_id, "created", "", json.dumps(data), None, stamp(now)
    )


def _dollar(sql: str) -> str:
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


class PgTx:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        status = await self.conn.execute(_dollar(sql), *args)
        return int(status.rsplit(" ", 1)[-1])

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.conn.fetchval(_dollar(sql), *args)


class PgRaw:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def fetchrow(self, sql: str, *args: Any) -> Sequence[Any] | None:
        return await self.pool.fetchrow(_dollar(sql), *args)  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[RawTx]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PgTx(conn)


class SqliteTx:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self.conn.execute(sql, args)
        return cursor.rowcount

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.conn.execute(sql, args) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None


class SqliteRaw:
    """One connection, one writer at a time: what Tortoise does on SQLite too."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()

    async def fetchrow(self, sql: str, *args: Any) -> Sequence[Any] | None:
        async with self.lock, self.conn.execute(sql, args) as cursor:
            return await cursor.fetchone()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[RawTx]:
        async with self.lock:
            await self.conn.execute("BEGIN")
            try:
                yield SqliteTx(self.conn)
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()

    async def checkpoint_loop(self) -> None:
        """The WAL housekeeping storage.db.checkpoint_loop gives the Tortoise store."""
        while True:
            await asyncio.sleep(1.0)
            async with self.lock:
                await self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


@contextlib.asynccontextmanager
async def raw_db(info: DatasetInfo) -> AsyncIterator[tuple[RawDb, Callable[[datetime], Any]]]:
    if info.db_url.startswith("sqlite"):
        conn = await aiosqlite.connect(sqlite_path(info.db_url), isolation_level=None)
        for pragma in SQLITE_PRAGMAS.split("&"):
            await conn.execute(f"PRAGMA {pragma}")
        db = SqliteRaw(conn)
        checkpoints = asyncio.create_task(db.checkpoint_loop())
        try:
            yield db, str
        finally:
            checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpoints
            await conn.close()
        return
    dsn = "postgresql://" + info.db_url.split("://", 1)[1].split("?", 1)[0]
    pool = await asyncpg.create_pool(dsn, min_size=RAW_POOL_SIZE, max_size=RAW_POOL_SIZE)
    try:
        yield PgRaw(pool), lambda moment: moment
    finally:
        await pool.close()
