"""Webhook benchmark: reps' button presses through the bot's HTTP path on a 1,000,000-deal store.

    python -m bench.webhook_bench [--deals N] [--db sqlite|postgres|both] [--seconds S]

For each database: generate the store (bench.dataset), start the bot as in production (`nextstep
run`, the real App of bot/app.py, in webhook mode, in a process of its own) against the fake Bot
API (sandbox.botapi.BotAPI in this process: real HTTP both ways, every request the bot makes
validated against its schema), and let 16 reps work their feed at once: the card in front of a
rep is one of his own open tasks (the feed handed it out: /next, then the conveyor), he picks an
outcome and presses its buttons the way Telegram sends them, with callback data built by
bot/callbacks.py's factories and checked to be on the card as it stands:

    busy / unavailable / no_pickup   "No answer" (opens the sub-menu), then the sub-button
    refused                          "Refused" (asks the reason), then a reason
    paid                             "Paid"

The press that closes the task is an *outcome press*; the one before it a *menu press*. After an
outcome the bot edits the card closed and (conveyor mode, the default) sends the next card,
which the rep works next.

Two phases on the same running bot:
    at work     each rep reads what the bot showed him before his next press: a think time of
                0.25-0.75 s (REP_THINK_SECONDS, uniform), the speed of a person tapping through
                a menu and far above a working rep's pace, who dials between two cards. 16 reps
                offer ~30 presses/s. The targets of issue 3 are judged here: the latency a rep
                sees while 15 others work the same bot.
    flat out    no think time, each rep presses the moment the previous reply is in: the
                capacity in presses/s. 16 requests are always in flight, so by Little's law a
                press waits 16 / (presses/s) on average whatever the bot does; its p99 measures
                the capacity, not what a rep sees (the engine + feed baseline, with no bot and
                no HTTP at all, is printed beside it for that reason).

Latencies of a press, measured from the moment the fake POSTs the update to the webhook to the
moment a Bot API request the bot made for that update reaches the fake (`Call.time`):
    answer   answerCallbackQuery, which rides on the webhook's reply: it comes once the update
             is handled, its last write included (marking the next card shown)
    first    the first message request of the update (for an outcome press: the card edited
             closed; it takes the pressed keyboard, and its spinner, away)
    last     the last message request of the update: everything the rep sees has been sent
             (for an outcome press: the next card)
The targets (p99 <= 50 ms on PostgreSQL, <= 80 ms on SQLite) are judged on `last` of the
outcome presses at work.

Baselines in the same run, on 16 other reps of the same store, same button mix, 16 at a time,
no Telegram and no HTTP:
    engine          crm.engine.apply_outcome alone, on open tasks of the reps
    engine + feed   what an outcome press asks of crm in conveyor mode: apply_outcome, then
                    crm.feed.next_task for the rep's next card
The baselines run on a clock standing at the data's `now`; the bot runs on the system clock
(the data's `now` is the moment of loading, so the same tasks are due) with its scheduler on,
as in production. Also printed, to say where the time goes: the CPU time a press took in the
bot's process, in this one (the fake Bot API and the reps; crm in the baselines) and in
PostgreSQL's processes; and the ratio of flat-out outcome presses to engine + feed presses
(target >= 0.4: one worker's share of what crm alone does on the same machine).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import connections

from bench.baselines import engine_feed_phase, engine_phase
from bench.bot_process import running_bot
from bench.cpu import CpuMeter, CpuSplit, postgres_database
from bench.dataset import generate, scratch_store
from bench.measure import Run, database_name, per_database, table, verdict
from bench.webhook_rig import REP_THINK_SECONDS, REPS, WebhookRig, WebhookRun
from config.playbook import Playbook, load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from sandbox.botapi import BotAPI, User
from storage.db import store
from storage.models import Employee

AT_WORK_LENGTH = 4  # the phase at work runs this many times --seconds: 30 presses/s need it
TARGET_P99_MS = {"postgres": 50.0, "sqlite": 80.0}
# One worker's flat-out outcome presses against crm's alone in the same run (issue 16).
TARGET_RATIO = 0.4
FIRST_TG_ID = 700_000_001  # Telegram ids given to the benched reps


async def webhook_phases(
    store_url: str, playbook: Playbook, rep_ids: Sequence[int], seconds: float, seed: int,
    *, workers: int = 1, nginx: bool = False,
) -> tuple[WebhookRun, WebhookRun]:
    """16 reps press through the bot's webhook: at work, then flat out."""
    first = FIRST_TG_ID + 1000 * seed  # each run's reps apart from an earlier run's
    users = [User(first + i, f"Rep {i + 1}", language_code="ru") for i in range(REPS)]
    await Employee.filter(tg_id__isnull=False, role="rep").update(tg_id=None)
    for rep_id, user in zip(rep_ids, users, strict=True):
        await Employee.filter(id=rep_id).update(tg_id=user.id, lang=None)
    async with (
        BotAPI() as api,
        running_bot(api, store_url, workers=workers, nginx=nginx) as (pids, webhook_url),
    ):
        rig = WebhookRig(
            api, playbook, webhook_url, pids, database=postgres_database(store_url)
        )
        at_work = await rig.phase(users, AT_WORK_LENGTH * seconds, REP_THINK_SECONDS, seed)
        flat_out = await rig.phase(users, seconds, None, seed + REPS)
    return at_work, flat_out


# --- one database ---------------------------------------------------------------------------


@dataclass
class Figures:
    kind: str
    deals: int
    engine: Run
    engine_feed: Run
    at_work: WebhookRun
    flat_out: WebhookRun
    engine_feed_cpu: CpuSplit  # this process is crm here (SQLite's store too)

    def phases(self) -> tuple[tuple[str, WebhookRun], ...]:
        return (("at work", self.at_work), ("flat out", self.flat_out))


async def _reps(ids: Sequence[int]) -> list[Employee]:
    found = {e.id: e for e in await Employee.filter(id__in=list(ids))}
    return [found[i] for i in ids]


async def _phase(
    name: str, kind: str, url: str, step: Awaitable[Run]
) -> tuple[Run, CpuSplit]:
    cpu = CpuMeter(database=postgres_database(url))
    run = await step
    used = cpu.read()
    print(f"{kind:8} {name:28} {run.line()}; CPU a press: crm {_ms(used.bench, run.ops)}, "
          f"{_store(kind, used.store, run.ops)}", flush=True)
    return run, used


def _ms(seconds: float, count: int) -> str:
    return f"{1000 * seconds / max(1, count):.1f} ms"


def _store(kind: str, seconds: float, count: int) -> str:
    """The store's share: PostgreSQL's processes, or SQLite inside the process beside it."""
    return f"PostgreSQL {_ms(seconds, count)}" if kind == "postgres" else "SQLite in-process"


async def bench_webhook(kind: str, deals: int, seconds: float) -> Figures:
    async with scratch_store(kind) as url:
        # The data's `now` is the moment of loading, not the hour: the bot runs on the system
        # clock, and every task due between the two would be a backlog of due pushes that the
        # bot sends at start, in the middle of the measurement.
        info = await generate(url, deals, now=datetime.now(UTC).replace(microsecond=0))
        if len(info.reps) < 3 * REPS:
            raise ValueError(f"the dataset has {len(info.reps)} reps, the bench needs {3 * REPS}")
        crm = Crm(load_playbook(), FakeClock(info.now))
        # Enough connections for 16 reps at once on PostgreSQL (Tortoise's default pool is 5).
        store_url = url if kind == "sqlite" else f"{url}?minsize={REPS}&maxsize={REPS + 4}"
        async with store(store_url):
            await settle(kind, crm)
            # The webhook first: the leads the reps claim once their own due tasks run out
            # come from the same team queues the engine + feed baseline claims from.
            at_work, flat_out = await webhook_phases(
                store_url, crm.playbook, info.reps[:REPS], seconds, seed=7
            )
            print(f"{kind:8} webhook done", flush=True)
            engine_reps = await _reps(info.reps[REPS : 2 * REPS])
            feed_reps = await _reps(info.reps[2 * REPS : 3 * REPS])
            engine, _ = await _phase(
                "engine, 16 at a time", kind, url, engine_phase(crm, engine_reps, seconds, seed=3)
            )
            engine_feed, feed_cpu = await _phase(
                "engine + feed, 16 reps", kind, url, engine_feed_phase(crm, feed_reps, seconds, 5)
            )
        figures = Figures(kind, deals, engine, engine_feed, at_work, flat_out, feed_cpu)
        for line in webhook_lines(figures):
            print(line, flush=True)
        return figures


async def settle(kind: str, crm: Crm) -> None:
    """Measure a settled store, as one that has been running a while: right after a bulk load
    autovacuum analyses and vacuums the new tables and the checkpointer writes GBs, both in the
    middle of the first phase (the at-work p99 on PostgreSQL was 27-34 ms on some runs and 88 ms
    on another); and today's digests, computed at the bot's start when the digest hour is past,
    are the reports bench's business, not a press's."""
    conn = connections.get("default")
    if kind == "postgres":
        await conn.execute_script("VACUUM ANALYZE")
        await conn.execute_script("CHECKPOINT")
    else:
        await conn.execute_script("ANALYZE")
        await conn.execute_script("PRAGMA wal_checkpoint(TRUNCATE)")
    today = crm.now().astimezone(crm.playbook.working_hours.zone).date()
    await Employee.filter(role="supervisor").update(digest_sent_on=today)


def webhook_lines(f: Figures) -> list[str]:
    lines = []
    for phase, w in f.phases():
        lines.append(
            f"{f.kind:8} webhook {phase}, {REPS} reps: {w.presses:,} presses ({w.outcomes:,} "
            f"outcomes) in {w.seconds:.1f} s, {w.failures} failed, {w.violations} Bot API "
            f"violations, {w.reps_out_of_work} reps ran out of work; CPU a press: the bot "
            f"{_ms(w.cpu.bot, w.presses)}, the fake Bot API and the reps "
            f"{_ms(w.cpu.bench, w.presses)}, {_store(f.kind, w.cpu.store, w.presses)}"
        )
        for label, closes in (
            ("all presses", None),
            ("outcome presses", True),
            ("menu presses", False),
        ):
            for name in ("answer", "first", "last"):
                series = w.series(name, closes=closes)
                lines.append(f"{f.kind:8}   {label:16} {name:6} {series.line()}")
    return lines


# --- the report -----------------------------------------------------------------------------


def report(figures: Sequence[Figures]) -> list[str]:
    """Figures next to the baselines and the targets of issues 3 and 16."""
    rows = [("measure", "database", "figure", "target", "")]
    for f in figures:
        db = database_name(f.kind)
        rows.append((f"engine alone, {REPS} at a time", db, f.engine.summary(), "", ""))
        rows.append((f"engine + feed, {REPS} reps flat out", db, f.engine_feed.summary(), "", ""))
        for phase, w in f.phases():
            for name in ("answer", "first", "last"):
                series = w.series(name, closes=True)
                rows.append(
                    (f"webhook {phase}, outcome press, {name}", db, series.summary(), "", "")
                )
            rows.append(
                (f"webhook {phase}, all presses, last", db, w.series("last").summary(), "", "")
            )
        flat = f.flat_out
        rows.append((
            "CPU an outcome (its menu press too), flat out", db,
            f"bot {_ms(flat.cpu.bot, flat.outcomes)}, fake Bot API + reps "
            f"{_ms(flat.cpu.bench, flat.outcomes)}, "
            f"{_store(f.kind, flat.cpu.store, flat.outcomes)}", "", "",
        ))
        rows.append((
            "CPU an engine + feed press", db,
            f"crm {_ms(f.engine_feed_cpu.bench, f.engine_feed.ops)}, "
            f"{_store(f.kind, f.engine_feed_cpu.store, f.engine_feed.ops)}", "", "",
        ))
        ratio = (
            flat.series("last", closes=True).per_second / f.engine_feed.per_second
            if f.engine_feed.per_second
            else 0.0
        )
        # With reps out of work (a small store) the figure is no capacity: not judged.
        judged = not flat.reps_out_of_work
        rows.append((
            "webhook/engine+feed outcomes per second, flat out", db, f"{ratio:.2f}",
            f">= {TARGET_RATIO}" if judged else "not judged: reps ran out of work",
            verdict(ratio >= TARGET_RATIO) if judged else "",
        ))
        limit = TARGET_P99_MS[f.kind]
        p99 = f.at_work.series("last", closes=True).percentile(99)
        ok = (
            p99 <= limit
            and f.at_work.outcomes > 0
            and all(w.failures == 0 and w.violations == 0 for _, w in f.phases())
        )
        rows.append(
            (
                f"webhook p99 at work, outcome press to last reply, {REPS} reps, {f.deals:,} deals",
                db,
                f"{p99:.1f} ms",
                f"<= {limit:.0f} ms, 0 failed",
                verdict(ok),
            )
        )
    return table(rows)


async def main(argv: Sequence[str] | None = None) -> int:
    return await per_database("python -m bench.webhook_bench", __doc__, argv, bench_webhook, report)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
