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
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

from crm.phonebook import phone_parts
from storage.db import migrate, tortoise_config
from storage.models import Employee, Role

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TEAMS = ("north", "south", "east", "west")
SOURCES = ("site", "call", "telegram", "referral", "ads", "repeat")
ZONES = (
    "Europe/Moscow",
    "Europe/Moscow",
    "Europe/Moscow",
    "Asia/Yekaterinburg",
    "Asia/Novosibirsk",
    None,
)
FIRST = ("Anna", "Ivan", "Olga", "Petr", "Maria", "Sergey", "Elena", "Dmitry", "Irina", "Pavel")
LAST = (
    "Ivanova",
    "Petrov",
    "Smirnova",
    "Kuznetsov",
    "Popova",
    "Sokolov",
    "Lebedeva",
    "Kozlov",
    "Novikova",
    "Morozov",
    "Volkova",
    "Orlov",
)
LOST_REASONS = ("price", "competitor", "no_need", "other")
# (stage, status, weight): the pipeline as it stands after a year of work.
STATES = (
    ("new", "open", 20),
    ("in_progress", "open", 26),
    ("invoice_sent", "open", 16),
    ("paid", "won", 14),
    ("refused", "lost", 14),
    ("archive", "archived", 10),
)
BULK_TABLES = (
    "contact", "contact_phone", "phone_part", "deal", "task", "timeline_event", "call",
    "deal_field", "contact_field",
)
CHUNK = 100_000
DAY = 86_400


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


def _fmt(moment: datetime) -> str:
    """A UTC moment as Tortoise writes it into SQLite."""
    return str(moment)


class _Rows:
    """Contacts, phones and deals, generated in chunks of ids."""

    def __init__(
        self,
        deals: int,
        reps: Sequence[int],
        rep_teams: Sequence[str],
        now: datetime,
        seed: int,
        as_text: bool,
    ) -> None:
        self.deals = deals
        self.queue_from = deals - deals // 20 + 1
        self.reps = reps
        self.rep_teams = dict(zip(reps, rep_teams, strict=True))
        self.now = now
        self.rng = random.Random(seed)
        self.ts: Callable[[datetime], Any] = _fmt if as_text else (lambda d: d)
        self.flag: Callable[[bool], Any] = int if as_text else bool

    def chunks(self) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
        """(contacts, phones, phone parts, deals) a chunk of ids at a time."""
        for start in range(1, self.deals + 1, CHUNK):
            yield self._chunk(start, min(start + CHUNK, self.deals + 1))

    def _chunk(self, start: int, stop: int) -> tuple[list[tuple[Any, ...]], ...]:
        rng, now, ts, flag = self.rng, self.now, self.ts, self.flag
        n = stop - start
        states = rng.choices(STATES, weights=[w for *_, w in STATES], k=n)
        owners = rng.choices(self.reps, k=n)
        amounts = rng.choices((0, 990_00, 4_900_00, 15_000_00, 49_000_00, 250_000_00), k=n)
        sources = rng.choices(SOURCES, k=n)
        zones = rng.choices(ZONES, k=n)
        jitter = [rng.random() for _ in range(n)]
        contacts, phones, deals = [], [], []
        span = 365 * DAY
        for k, i in enumerate(range(start, stop)):
            queued = i >= self.queue_from
            if queued:  # the newest leads: last week, nobody's yet
                created = now - timedelta(
                    seconds=int(
                        7
                        * DAY
                        * (self.deals - i + jitter[k])
                        / max(1, self.deals - self.queue_from + 1)
                    )
                )
                stage, status, owner = "new", "open", None
                team = TEAMS[i % len(TEAMS)]
            else:
                created = now - timedelta(
                    seconds=int(span * (1 - i / self.deals) + 3600 * jitter[k] + 7 * DAY)
                )
                stage, status, _ = states[k]
                owner = owners[k]
                team = self.rep_teams[owner]
            age = (now - created).total_seconds()
            changed = (
                created if stage == "new" else created + timedelta(seconds=int(age * jitter[k] / 2))
            )
            closed = changed if status != "open" else None
            name = f"{FIRST[i % 10]} {LAST[i * 7 % 12]}"
            phone = f"+79{i * 7919 % 1_000_000_000:09d}"
            contacts.append(
                (
                    i,
                    name,
                    "" if i % 4 else f"OOO Client {i}",
                    f"c{i}@example.com" if i % 5 == 0 else None,
                    10_000_000 + i if i % 7 == 0 else None,
                    None,
                    "RU",
                    zones[k],
                    sources[k],
                    "[]",
                    ts(closed) if closed and status == "won" else None,
                    flag(False),
                    ts(created),
                    owner,
                )
            )
            phones.append((i, i, phone))
            deals.append(
                (
                    i,
                    i,
                    name,
                    amounts[k],
                    stage,
                    status,
                    rng.choice(LOST_REASONS) if status == "lost" else None,
                    None,
                    sources[k],
                    "[]",
                    5 if status == "archived" else (i % 4 if stage == "new" and not queued else 0),
                    owner,
                    team,
                    2 if stage != "new" else 1,
                    ts(created),
                    ts(changed),
                    ts(closed) if closed else None,
                )
            )
        parts = [(c, part) for _, c, e164 in phones for part in phone_parts(e164)]
        return contacts, phones, parts, deals


CONTACT_COLUMNS = (
    "id",
    "name",
    "company",
    "email",
    "tg_user_id",
    "tg_username",
    "region",
    "tz",
    "source",
    "tags",
    "last_purchase_at",
    "stopped",
    "created_at",
    "owner_id",
)
PHONE_COLUMNS = ("id", "contact_id", "e164")
PART_COLUMNS = ("contact_id", "part")
DEAL_COLUMNS = (
    "id",
    "contact_id",
    "title",
    "amount",
    "stage",
    "status",
    "lost_reason",
    "lost_note",
    "source",
    "tags",
    "no_answer_count",
    "owner_id",
    "team",
    "version",
    "created_at",
    "stage_changed_at",
    "closed_at",
)


class _Dialect:
    """The few expressions that differ between PostgreSQL and SQLite in the derived inserts."""

    def __init__(self, postgres: bool, now: datetime) -> None:
        self.postgres = postgres
        self.now = f"'{_fmt(now)}'::timestamptz" if postgres else f"'{_fmt(now)}'"

    def plus_minutes(self, moment: str, minutes: str) -> str:
        if self.postgres:
            return f"({moment} + ({minutes}) * interval '1 minute')"
        return f"strftime('%Y-%m-%d %H:%M:%S+00:00', {moment}, printf('%+d minutes', {minutes}))"

    def json(self, text: str) -> str:
        return f"({text})::jsonb" if self.postgres else text


CREATED_DATA = """'{"stage": "new", "source": "' || d.source || '"}'"""
OUTCOME_DATA = """'{"button": "' || t.outcome || '", "source": "bot"}'"""
STAGE_DATA = """'{"from": "new", "to": "' || d.stage || '"}'"""


# Custom fields of the default playbook: four deals in five have a product (basic twice as
# often as pro or custom), half the contacts a city; values as crm.fields stores them.
FIELD_INSERTS = [
    """INSERT INTO deal_field (deal_id, key, value, folded)
       SELECT d.id, 'product', v.value, v.value
       FROM deal d JOIN (SELECT 0 AS r, 'basic' AS value UNION ALL SELECT 1, 'pro'
                         UNION ALL SELECT 2, 'basic' UNION ALL SELECT 3, 'custom') v
         ON v.r = d.id % 5""",
    """INSERT INTO contact_field (contact_id, key, value, folded)
       SELECT c.id, 'city', v.value, v.folded
       FROM contact c JOIN (SELECT 1 AS r, 'Москва' AS value, 'москва' AS folded
                            UNION ALL SELECT 3, 'Казань', 'казань'
                            UNION ALL SELECT 5, 'Новосибирск', 'новосибирск'
                            UNION ALL SELECT 7, 'Екатеринбург', 'екатеринбург'
                            UNION ALL SELECT 9, 'Омск', 'омск') v
         ON v.r = c.id % 10""",
]


def _derived_inserts(d: _Dialect) -> list[str]:
    due = d.plus_minutes(d.now, "(d.id % (16 * 1440)) * 7919 % (16 * 1440) - 2 * 1440")
    open_due = f"CASE WHEN d.owner_id IS NULL THEN d.created_at ELSE {due} END"
    return [
        *FIELD_INSERTS,
        # One open task per open deal; overdue ones have been pushed already.
        f"""INSERT INTO task (deal_id, kind, status, due_at, team, attempt, planned_by, created_at,
                              assignee_id, pushed_at)
            SELECT d.id,
                   CASE WHEN d.owner_id IS NULL THEN 'lead'
                        WHEN d.stage = 'invoice_sent' THEN 'payment_check' ELSE 'call' END,
                   'open', {open_due}, d.team, d.no_answer_count,
                   CASE d.stage WHEN 'in_progress' THEN 'call_back'
                                WHEN 'invoice_sent' THEN 'invoice_sent' END,
                   d.stage_changed_at, d.owner_id,
                   CASE WHEN {open_due} <= {d.now} THEN {open_due} END
            FROM deal d WHERE d.status = 'open'""",
        # The done task behind every deal that was ever worked.
        """INSERT INTO task (deal_id, kind, status, due_at, team, attempt, created_at, closed_at,
                              outcome, assignee_id, closed_by_id, pushed_at)
            SELECT d.id, 'call', 'done', d.created_at, d.team,
                   CASE WHEN d.status = 'archived' THEN 5 ELSE d.no_answer_count END,
                   d.created_at, d.stage_changed_at,
                   CASE d.stage WHEN 'in_progress' THEN 'call_back'
                                WHEN 'invoice_sent' THEN 'invoice_sent' WHEN 'paid' THEN 'paid'
                                WHEN 'refused' THEN 'refused' ELSE 'no_pickup' END,
                   d.owner_id, d.owner_id, d.created_at
            FROM deal d WHERE d.stage <> 'new' OR d.no_answer_count > 0""",
        f"""INSERT INTO timeline_event (deal_id, kind, text, data, at, actor_id)
            SELECT d.id, 'created', '',
                   {d.json(CREATED_DATA)},
                   d.created_at, NULL
            FROM deal d""",
        f"""INSERT INTO timeline_event (deal_id, kind, text, data, at, actor_id)
            SELECT t.deal_id, 'outcome', '',
                   {d.json(OUTCOME_DATA)},
                   t.closed_at, t.closed_by_id
            FROM task t WHERE t.status = 'done'""",
        f"""INSERT INTO timeline_event (deal_id, kind, text, data, at, actor_id)
            SELECT d.id, 'stage', '',
                   {d.json(STAGE_DATA)},
                   d.stage_changed_at, d.owner_id
            FROM deal d WHERE d.stage <> 'new'""",
        f"""INSERT INTO "call" (call_id, direction, agent_id, remote, remote_e164, contact_id,
                              deal_id, disposition, sip_code, started_at, answered_at, ended_at,
                              talk_seconds)
            SELECT 'bench-' || t.id, 'out', t.assignee_id, p.e164, p.e164, p.contact_id, t.deal_id,
                   CASE WHEN t.outcome = 'no_pickup' THEN 'no_answer' ELSE 'answered' END,
                   CASE WHEN t.outcome = 'no_pickup' THEN 487 ELSE 200 END,
                   {d.plus_minutes("t.closed_at", "-1 - t.id % 9")},
                   CASE WHEN t.outcome = 'no_pickup' THEN NULL
                        ELSE {d.plus_minutes("t.closed_at", "-1 - t.id % 9")} END,
                   t.closed_at,
                   CASE WHEN t.outcome = 'no_pickup' THEN 0 ELSE 60 * (1 + t.id % 9) END
            FROM task t JOIN contact_phone p ON p.contact_id = t.deal_id
            WHERE t.status = 'done' AND t.id % 3 = 0""",
    ]


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


def _pg_dsn(db_url: str) -> str:
    return "postgresql://" + db_url.split("://", 1)[1].split("?", 1)[0]


def sqlite_path(db_url: str) -> str:
    return db_url.removeprefix("sqlite://").split("?", 1)[0]


async def _load_postgres(db_url: str, rows: _Rows, now: datetime) -> None:
    dsn = _pg_dsn(db_url)
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        for conn in conns:
            await conn.execute(
                "SET session_replication_role = replica; "
                "SET synchronous_commit = off; SET maintenance_work_mem = '256MB'"
            )
        main = conns[0]
        indexes = await main.fetch(
            """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS ddl
               FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
               WHERE c.relname = ANY($1::text[])
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)""",
            list(BULK_TABLES),
        )
        await main.execute("".join(f"DROP INDEX {r['name']};" for r in indexes))
        pending: asyncio.Future[Any] | None = None
        for contacts, phones, parts, deals in rows.chunks():
            if pending is not None:
                await pending
            pending = asyncio.gather(
                conns[0].copy_records_to_table(
                    "contact", records=contacts, columns=CONTACT_COLUMNS
                ),
                conns[1].copy_records_to_table(
                    "contact_phone", records=phones, columns=PHONE_COLUMNS
                ),
                conns[2].copy_records_to_table("deal", records=deals, columns=DEAL_COLUMNS),
                conns[3].copy_records_to_table("phone_part", records=parts, columns=PART_COLUMNS),
            )
            await asyncio.sleep(0)  # let the copies start while the next chunk is built
        if pending is not None:
            await pending
        for table in ("contact", "contact_phone", "phone_part", "deal"):
            await main.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        for sql in _derived_inserts(_Dialect(True, now)):
            await main.execute(sql)
        # Two cores: build the indexes two at a time.
        ddl = [r["ddl"] for r in indexes]
        await asyncio.gather(*(_run_all(conn, ddl[k::2]) for k, conn in enumerate(conns[:2])))
        await main.execute("ANALYZE")
    finally:
        for conn in conns:
            await conn.close()


async def _run_all(conn: asyncpg.Connection, statements: Sequence[str]) -> None:
    for sql in statements:
        await conn.execute(sql)


def _load_sqlite(path: str, rows: _Rows, now: datetime) -> None:
    """Runs in a worker thread: sqlite3 releases the GIL while it works."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({','.join('?' * len(BULK_TABLES))})",
            BULK_TABLES,
        ).fetchall()
        # The load needs no journal; WAL is switched back on before anyone else opens the file.
        db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;"
        )
        db.execute("BEGIN")
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')

        def insert(table: str, columns: Sequence[str], records: list[tuple[Any, ...]]) -> None:
            marks = ",".join("?" * len(columns))
            db.executemany(f'INSERT INTO "{table}" ({",".join(columns)}) VALUES ({marks})', records)

        for contacts, phones, parts, deals in rows.chunks():
            insert("contact", CONTACT_COLUMNS, contacts)
            insert("contact_phone", PHONE_COLUMNS, phones)
            insert("phone_part", PART_COLUMNS, parts)
            insert("deal", DEAL_COLUMNS, deals)
        for sql in _derived_inserts(_Dialect(False, now)):
            db.execute(sql)
        for _, ddl in indexes:
            db.execute(ddl)
        db.execute("COMMIT")
        db.executescript("PRAGMA journal_mode = WAL;")
    finally:
        db.close()


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
    rows = _Rows(deals, rep_ids, rep_teams, now, seed, as_text=not postgres)
    if postgres:
        await _load_postgres(db_url, rows, now)
    else:
        await asyncio.to_thread(_load_sqlite, sqlite_path(db_url), rows, now)
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
        conn = await asyncpg.connect(_pg_dsn(db_url))
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
