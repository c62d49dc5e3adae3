"""Store benchmark: the outcome transaction and the next-task claim on a 1,000,000-deal store.

    python -m bench.store_bench [--deals N] [--db sqlite|postgres|both] [--seconds S]

For each database: generate the store (bench.dataset), then press outcome buttons on open tasks
of many deals through crm.engine.apply_outcome, 1 at a time and 16 concurrent, next to a
raw-driver version of the same transaction (asyncpg / aiosqlite, same statements) in the same
run; then 16 reps with nothing due claim leads through crm.feed.next_task, and every claim is
checked to have gone to exactly one rep. Each phase runs for a fixed time. The table at the end
puts the targets of issue 2 next to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiosqlite
import asyncpg
from tortoise import connections

from bench.dataset import DatasetInfo, generate, scratch_store, sqlite_path
from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from crm.engine import Decision, Press, Status, apply_outcome, decide
from crm.feed import next_task
from crm.permissions import can_act_on
from storage.db import SQLITE_PRAGMAS, store
from storage.models import DealStatus, Employee, Task, TimelineEvent

# busy / no_pickup climb the no-answer ladder, call_back and invoice_sent ask for a time, paid
# closes the deal and plans the repeat sale.
BUTTON_MIX = (
    ("busy", 25),
    ("no_pickup", 25),
    ("call_back", 25),
    ("invoice_sent", 15),
    ("paid", 10),
)
CONCURRENCY = (1, 16)
CLAIMERS = 16
TERMINAL = {DealStatus.WON, DealStatus.LOST, DealStatus.ARCHIVED}


@dataclass(frozen=True)
class Work:
    task_id: int
    actor: Employee
    button: str
    when: datetime


@dataclass
class Run:
    """One time-bounded phase: how many operations, how long each took."""

    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Milliseconds."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000

    def summary(self) -> str:
        return (
            f"{self.per_second:,.0f}/s p50 {self.percentile(50):.1f} ms"
            f" p99 {self.percentile(99):.1f} ms"
        )

    def line(self) -> str:
        return (
            f"{self.per_second:8,.0f} ops/s  p50 {self.percentile(50):6.1f} ms  "
            f"p99 {self.percentile(99):6.1f} ms  ({self.ops:,} ops, {self.failures} failed)"
        )


async def timed(
    seconds: float, concurrency: int, items: Iterator[Any], op: Callable[[Any], Awaitable[bool]]
) -> Run:
    """Run op over items with `concurrency` workers until the time is up or items run out."""
    run = Run()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        for item in items:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            ok = await op(item)
            run.latencies.append(time.perf_counter() - started)
            run.ops += 1
            run.failures += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


# --- the raw-driver version of the outcome transaction --------------------------------------


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
    pool = await asyncpg.create_pool(dsn, min_size=CONCURRENCY[-1], max_size=CONCURRENCY[-1])
    try:
        yield PgRaw(pool), lambda moment: moment
    finally:
        await pool.close()


# --- phases ---------------------------------------------------------------------------------


async def _work(info: DatasetInfo, crm: Crm, count: int, seed: int) -> list[Work]:
    """Open tasks of distinct owned deals, each with a button its stage offers."""
    reps = {e.id: e for e in await Employee.filter(id__in=info.reps)}
    rows = (
        await Task.filter(status="open", assignee_id__not_isnull=True)
        .limit(count)
        .values_list("id", "assignee_id")
    )
    rng = random.Random(seed)
    buttons = rng.choices(
        [b for b, _ in BUTTON_MIX], weights=[w for _, w in BUTTON_MIX], k=len(rows)
    )
    when = crm.now() + timedelta(days=1)
    work = [Work(int(t), reps[int(a)], b, when) for (t, a), b in zip(rows, buttons, strict=True)]
    rng.shuffle(work)
    return work


async def tortoise_outcome(crm: Crm, work: Work) -> bool:
    out = await apply_outcome(crm, Press(work.task_id, work.button, work.actor, when=work.when))
    return out.status == Status.DONE


@dataclass
class Claims:
    run: Run
    doubles: int


async def claim_phase(info: DatasetInfo, seconds: float) -> Claims:
    """16 reps with nothing due claim queued leads through next_task."""
    # Every own task and every queued lead is due within the week before `now` or later:
    # eight days earlier nobody has anything due, so each next_task call claims.
    crm = Crm(load_playbook(), FakeClock(info.now - timedelta(days=8)))
    claimers = await Employee.filter(id__in=info.reps[:CLAIMERS]).order_by("id")
    queue = await Task.filter(status="open", assignee_id=None).count()
    claimed: list[tuple[int, int]] = []

    async def claim(rep: Employee) -> bool:
        task = await next_task(crm, rep)
        if task is None:
            return False
        claimed.append((task.id, rep.id))
        return task.assignee_id == rep.id  # type: ignore[attr-defined]

    # Claimers take turns over the teams, so each team's queue empties at the same pace; stop a
    # little short of the end so "queue empty" is never counted as a failed claim.
    turns = itertools.islice(itertools.cycle(claimers), queue * 9 // 10)
    run = await timed(seconds, CLAIMERS, turns, claim)
    return Claims(run, await _doubles(claimed))


async def _doubles(claimed: list[tuple[int, int]]) -> int:
    """Tasks handed out twice, stored for another rep than the one told, or assigned twice."""
    ids = [t for t, _ in claimed]
    doubles = len(ids) - len(set(ids))
    told = dict(claimed)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows = await Task.filter(id__in=chunk).values_list("id", "assignee_id", "deal_id")
        doubles += sum(assignee != told[task_id] for task_id, assignee, _ in rows)
        # The generated store has no ASSIGN events: each claimed deal must have exactly one now.
        assigned = await TimelineEvent.filter(
            deal_id__in=[deal for *_, deal in rows], kind="assign"
        ).count()
        doubles += assigned - len(rows)
    return doubles


@dataclass
class Figures:
    kind: str
    load_seconds: float
    deals: int
    ours: dict[int, Run]
    raw: dict[int, Run]
    claims: Claims


async def bench_store(kind: str, deals: int, seconds: float) -> Figures:
    async with scratch_store(kind) as url:
        info = await generate(url, deals)
        crm = Crm(load_playbook(), FakeClock(info.now))
        # 16 concurrent coroutines need 16 connections on PostgreSQL (Tortoise's default pool is 5).
        store_url = url if kind == "sqlite" else f"{url}?minsize=16&maxsize=16"
        async with store(store_url):
            enough = int(4 * seconds * 3000)
            work = iter(await _work(info, crm, enough, seed=7))
            ours: dict[int, Run] = {}
            raw: dict[int, Run] = {}

            async def press(w: Work) -> bool:
                return await tortoise_outcome(crm, w)

            for concurrency in CONCURRENCY:
                ours[concurrency] = await timed(seconds, concurrency, work, press)
                print(
                    f"{kind:8} outcome, Tortoise, {concurrency:2} concurrent: "
                    f"{ours[concurrency].line()}",
                    flush=True,
                )
                async with raw_db(info) as (db, stamp):

                    async def raw_press(w: Work, db: RawDb = db, stamp: Stamp = stamp) -> bool:
                        return await raw_outcome(db, crm, w, stamp)

                    raw[concurrency] = await timed(seconds, concurrency, work, raw_press)
                print(
                    f"{kind:8} outcome, raw driver, {concurrency:2} concurrent: "
                    f"{raw[concurrency].line()}",
                    flush=True,
                )
            claims = await claim_phase(info, seconds)
            print(
                f"{kind:8} next-task claims, {CLAIMERS} claimers: {claims.run.line()}, "
                f"{claims.doubles} double claims",
                flush=True,
            )
            if kind == "sqlite":
                await connections.get("default").execute_script("PRAGMA wal_checkpoint(TRUNCATE)")
        return Figures(kind, info.load_seconds, deals, ours, raw, claims)


def verdict(ok: bool) -> str:
    """The mark of a target in every bench's report; a MISS makes the bench exit 1."""
    return "PASS" if ok else "MISS"


def database_name(kind: str) -> str:
    return "PostgreSQL" if kind == "postgres" else "SQLite"


def report(figures: Sequence[Figures]) -> list[str]:
    """The table of targets (issue 2) next to the figures."""
    rows = [("measure", "database", "figure", "target", "")]
    for f in figures:
        db = database_name(f.kind)
        for c in CONCURRENCY:
            o, r = f.ours[c], f.raw[c]
            rows.append(
                (
                    f"outcome, {c} at a time, Tortoise",
                    db,
                    o.summary(),
                    "",
                    "",
                )
            )
            rows.append(
                (
                    f"outcome, {c} at a time, raw driver",
                    db,
                    r.summary(),
                    "",
                    "",
                )
            )
            ratio = o.per_second / r.per_second if r.per_second else 0.0
            rows.append(
                (
                    f"our/raw throughput, {c} at a time",
                    db,
                    f"{ratio:.2f}",
                    ">= 0.60",
                    verdict(ratio >= 0.6),
                )
            )
        limit = 50.0 if f.kind == "postgres" else 80.0
        p99 = f.ours[16].percentile(99)
        rows.append(
            (
                "outcome p99, 16 concurrent",
                db,
                f"{p99:.1f} ms",
                f"<= {limit:.0f} ms",
                verdict(p99 <= limit and f.ours[16].failures == 0),
            )
        )
        claims = f.claims
        target = "" if f.kind == "sqlite" else ">= 2,000/s"
        ok = claims.doubles == 0 and (f.kind == "sqlite" or claims.run.per_second >= 2000)
        rows.append(
            (
                f"next-task claims, {CLAIMERS} concurrent",
                db,
                f"{claims.run.per_second:,.0f}/s, {claims.doubles} doubles",
                f"{target}, 0 doubles".lstrip(", "),
                verdict(ok),
            )
        )
        rows.append(
            (
                f"load {f.deals:,} deals",
                db,
                f"{f.load_seconds:.1f} s",
                "< 60 s" if f.deals >= 1_000_000 else "(1M: < 60 s)",
                verdict(f.load_seconds < 60 * max(1, f.deals) / 1_000_000),
            )
        )
    return table(rows)


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as left-aligned columns; the verdict, if any, last."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


async def per_database(
    prog: str,
    doc: str,
    argv: Sequence[str] | None,
    bench: Callable[[str, int, float], Coroutine[Any, Any, Any]],
    report: Callable[[list[Any]], list[str]],
) -> int:
    """The command line every per-database bench shares: run, print the targets, exit 1 on a
    miss so `python -m bench` reports it."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n")[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each phase")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every bench's options
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    # A task each: Tortoise keeps its set-up in a context variable, one store per context.
    figures: list[Any] = [
        await asyncio.create_task(bench(k, args.deals, args.seconds)) for k in kinds
    ]
    lines = report(figures)
    print("\n" + "\n".join(lines))
    return 1 if any(line.endswith("MISS") for line in lines) else 0


async def main(argv: Sequence[str] | None = None) -> int:
    return await per_database("python -m bench.store_bench", __doc__, argv, bench_store, report)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
