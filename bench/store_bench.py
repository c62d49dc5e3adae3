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

import asyncio
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from tortoise import connections

from bench.dataset import DatasetInfo, generate, scratch_store
from bench.measure import Run, database_name, per_database, table, timed, verdict
from bench.raw_store import RawDb, Stamp, Work, raw_db, raw_outcome
from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from crm.engine import Press, Status, apply_outcome
from crm.feed import next_task
from storage.db import store
from storage.models import Employee, Task, TimelineEvent

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


async def main(argv: Sequence[str] | None = None) -> int:
    return await per_database("python -m bench.store_bench", __doc__, argv, bench_store, report)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
