"""A big, realistic store for the benchmarks, loaded fast with the raw drivers.

`generate(db_url)` migrates a fresh database (storage.db.migrate, so the schema is exactly the
migrated one) and fills it:

- employees: `reps` reps spread round-robin over TEAMS, one supervisor per team, one admin
  (created through the ORM: a few hundred rows, and every model default stays right);
- contacts: one per deal (contact id == deal id), each with one unique E.164 mobile number
  (+79…) and its parts for /find (crm.phonebook.phone_parts), Moscow/Yekaterinburg/Novosibirsk/
  unknown time zones, some e-mails and Telegram ids;
- deals: ids grow with created_at, spread over the 365 days before `now`; about 62% open
  (new / in_progress / invoice_sent), 14% won (paid), 14% lost (refused, with a reason),
  10% archived (the no-answer ladder ran out); amounts in kopecks, six sources, owned by a rep of
  the deal's team;
- the lead queue: the newest `deals // 20` deals are open "new" leads of the last week with no
  owner, each with an unassigned open "lead" task due at creation (what next_task claims);
- tasks: exactly one open task per open deal (the partial unique index holds), due from two days
  before `now` to two weeks after (overdue ones are already pushed), plus one done task with its
  outcome for every deal that was ever worked;
- timeline: CREATED for every deal, OUTCOME for every done task, STAGE for every deal that left
  "new"; calls: one for every third done task (answered or no answer, with talk time).

Contacts, phones and deals come from Python (seeded, so the same seed gives the same data) through
PostgreSQL COPY or SQLite executemany; tasks, events and calls are derived from them inside the
database with INSERT … SELECT. Secondary indexes are dropped for the load and recreated from their
own saved definitions; on PostgreSQL foreign-key triggers are off for the loading session
(session_replication_role), the constraints themselves stay.

Here: the shape and the run; the rows are made in dataset_rows.py, the derived inserts are
dataset_derived.py, the bulk load is dataset_load.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench.dataset_load import load_postgres, load_sqlite, pg_dsn
from bench.dataset_rows import TEAMS, Rows
from storage.db import migrate, tortoise_config
from storage.models import Employee, Role

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class DatasetInfo:
    db_url: str
    now: datetime  # every date in the data is before it; open tasks are due around it
    deals: int
    open_deals: int
    queue: int  # unassigned open lead tasks, oldest claimed first
    tasks: int
    events: int
    calls: int
    reps: tuple[int, ...]  # rep ids; rep_teams[i] is the team of reps[i]
    rep_teams: tuple[str, ...]
    supervisors: tuple[int, ...]
    admin: int
    load_seconds: float


async def _employees(db_url: str, reps: int) -> tuple[list[int], list[str], list[int], int]:
    await Tortoise.init(config=tortoise_config(db_url))
    try:
        admin = await Employee.create(name="Admin", role=Role.ADMIN, team=TEAMS[0])
        supervisors = [
            await Employee.create(name=f"Supervisor {team}", role=Role.SUPERVISOR, team=team)
            for team in TEAMS
        ]
        await Employee.bulk_create(
            [
                Employee(
                    name=f"Rep {i + 1}",
                    role=Role.REP,
                    team=TEAMS[i % len(TEAMS)],
                    sip_ext=str(1000 + i),
                    tz="Europe/Moscow",
                )
                for i in range(reps)
            ]
        )
        rows = await Employee.filter(role=Role.REP).order_by("id").values_list("id", "team")
    finally:
        await Tortoise.close_connections()
    return (
        [int(r[0]) for r in rows],
        [str(r[1]) for r in rows],
        [s.id for s in supervisors],
        admin.id,
    )


def sqlite_path(db_url: str) -> str:
    return db_url.removeprefix("sqlite://").split("?", 1)[0]


async def generate(
    db_url: str,
    deals: int = 1_000_000,
    reps: int = 200,
    *,
    seed: int = 1,
    now: datetime | None = None,
) -> DatasetInfo:
    """Migrate the empty database at db_url and fill it (see the module docstring for the shape).

    `now` defaults to the current hour; the load time (migration excluded) is printed.
    """
    now = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # Tortoise keeps its set-up in a context variable: in tasks of their own, the migration and
    # the ORM session leave the caller free to open the store afterwards.
    # Tortoise caches insert statements per connection name, whatever the dialect behind it.
    EXECUTOR_CACHE.clear()
    await asyncio.create_task(migrate(db_url))
    started = time.perf_counter()
    rep_ids, rep_teams, supervisors, admin = await asyncio.create_task(_employees(db_url, reps))
    postgres = db_url.startswith(("postgres://", "postgresql://"))
    rows = Rows(deals, rep_ids, rep_teams, now, seed, as_text=not postgres)
    if postgres:
        await load_postgres(db_url, rows, now)
    else:
        await asyncio.to_thread(load_sqlite, sqlite_path(db_url), rows, now)
    load_seconds = time.perf_counter() - started
    counts = await _counts(db_url, postgres)
    print(
        f"loaded {deals:,} deals into {'PostgreSQL' if postgres else 'SQLite'} "
        f"in {load_seconds:.1f} s ({counts['task']:,} tasks, {counts['timeline_event']:,} events, "
        f"{counts['call']:,} calls)",
        flush=True,
    )
    return DatasetInfo(
        db_url=db_url,
        now=now,
        deals=deals,
        open_deals=counts["open_deals"],
        queue=counts["queue"],
        tasks=counts["task"],
        events=counts["timeline_event"],
        calls=counts["call"],
        reps=tuple(rep_ids),
        rep_teams=tuple(rep_teams),
        supervisors=tuple(supervisors),
        admin=admin,
        load_seconds=load_seconds,
    )


COUNT_SQL = {
    "task": "SELECT count(*) FROM task",
    "timeline_event": "SELECT count(*) FROM timeline_event",
    "call": 'SELECT count(*) FROM "call"',
    "open_deals": "SELECT count(*) FROM deal WHERE status = 'open'",
    "queue": "SELECT count(*) FROM task WHERE status = 'open' AND assignee_id IS NULL",
}


async def _counts(db_url: str, postgres: bool) -> dict[str, int]:
    if postgres:
        conn = await asyncpg.connect(pg_dsn(db_url))
        try:
            return {k: int(await conn.fetchval(sql)) for k, sql in COUNT_SQL.items()}
        finally:
            await conn.close()

    def count() -> dict[str, int]:
        db = sqlite3.connect(sqlite_path(db_url))
        try:
            return {k: int(db.execute(sql).fetchone()[0]) for k, sql in COUNT_SQL.items()}
        finally:
            db.close()

    return await asyncio.to_thread(count)


@contextlib.asynccontextmanager
async def scratch_store(kind: str) -> AsyncIterator[str]:
    """The URL of an empty database of kind 'sqlite' or 'postgres', dropped/removed after."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="nextstep_bench_")
        try:
            yield f"sqlite://{Path(folder) / 'store.sqlite3'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"nextstep_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
