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
    answer   answerCallbackQuery (the button's spinner stops)
    first    the first request of the update (for an outcome press: the card edited closed)
    last     the last request of the update: everything the rep sees has been sent
The targets (p99 <= 50 ms on PostgreSQL, <= 80 ms on SQLite) are judged on `last` of the
outcome presses at work, the slowest figure printed.

Baselines in the same run, on 16 other reps of the same store, same button mix, 16 at a time,
no Telegram and no HTTP:
    engine          crm.engine.apply_outcome alone, on open tasks of the reps
    engine + feed   what an outcome press asks of crm in conveyor mode: apply_outcome, then
                    crm.feed.next_task for the rep's next card
The baselines run on a clock standing at the data's `now`; the bot runs on the system clock
(the data's `now` is the moment of loading, so the same tasks are due) with its scheduler on,
as in production. Also printed: the CPU time the bot's process and this one used per press.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.dataset import generate, scratch_store
from bench.store_bench import Run, database_name, per_database, table, timed, verdict
from bot.callbacks import ReasonPick, TaskAction
from config.playbook import Playbook, load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from crm.engine import Press, Status, apply_outcome
from crm.feed import next_task
from sandbox.botapi import BotAPI, Call, User, WebhookDelivery
from storage.db import store
from storage.models import Employee, Task
from tests.e2e.harness import free_port

REPS = 16
# Outcomes a rep picks for a card, with weights: the no-answer ladder most often.
OUTCOME_MIX = (
    ("busy", 20),
    ("unavailable", 15),
    ("no_pickup", 20),
    ("paid", 20),
    ("refused", 25),
)
# Refusal reasons that need no typing ("other" asks the rep to type what it was).
REASONS = ("price", "competitor", "no_need")
# A rep at work reads the card or sub-menu the bot showed him before he presses (uniform, s).
REP_THINK_SECONDS = (0.25, 0.75)
AT_WORK_LENGTH = 4  # the phase at work runs this many times --seconds: 30 presses/s need it
TARGET_P99_MS = {"postgres": 50.0, "sqlite": 80.0}
WEBHOOK_PATH = "/telegram/webhook"
ROOT = Path(__file__).resolve().parents[1]
BOT_START_SECONDS = 60.0
BOT_STOP_SECONDS = 30.0
WEBHOOK_SECRET = "nextstep-webhook-bench"
FIRST_TG_ID = 700_000_001  # Telegram ids given to the benched reps
Json = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    button: str
    reason: str | None = None


def pick_outcome(rng: random.Random) -> Outcome:
    button = rng.choices([b for b, _ in OUTCOME_MIX], weights=[w for _, w in OUTCOME_MIX])[0]
    return Outcome(button, rng.choice(REASONS) if button == "refused" else None)


def press_data(playbook: Playbook, task_id: int, outcome: Outcome) -> list[str]:
    """The callback data of the presses a rep makes for one outcome, in order; the last one
    closes the task. Built as the card keyboards build them (bot/keyboards.py)."""
    spec = playbook.buttons[outcome.button]
    if outcome.reason is not None:
        return [
            TaskAction(task=task_id, button=outcome.button).pack(),
            ReasonPick(
                task=task_id, button=outcome.button, index=spec.reasons.index(outcome.reason)
            ).pack(),
        ]
    opener = next((key for key, b in playbook.buttons.items() if outcome.button in b.submenu), None)
    data = [] if opener is None else [TaskAction(task=task_id, button=opener).pack()]
    return [*data, TaskAction(task=task_id, button=outcome.button).pack()]


def card_task(message: Json | None) -> int | None:
    """The task of a card: the one its outcome buttons act on (None if it is no card)."""
    markup = message.get("reply_markup") if message else None
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    for row in rows:
        for button in row:
            data = str(button.get("callback_data", ""))
            if data.startswith(TaskAction.__prefix__ + ":"):
                return TaskAction.unpack(data).task
    return None


# --- the webhook phase ----------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """One press through the webhook; seconds from the POST."""

    closes: bool  # the outcome press (closes the task), not a menu press
    answer: float
    first: float
    last: float


@dataclass
class WebhookRun:
    seconds: float = 0.0
    timings: list[Timing] = field(default_factory=list)
    failures: int = 0
    violations: int = 0
    reps_out_of_work: int = 0
    bot_cpu_seconds: float = 0.0  # CPU time of the bot's process during the phase
    fake_cpu_seconds: float = 0.0  # ...and of this one: the fake Bot API and the reps

    def series(self, name: str, *, closes: bool | None = None) -> Run:
        """One latency series (answer / first / last) as a Run, for all presses or one kind."""
        picked = [t for t in self.timings if closes is None or t.closes == closes]
        return Run(
            ops=len(picked),
            seconds=self.seconds,
            latencies=[getattr(t, name) for t in picked],
            failures=self.failures if closes is None else 0,
        )

    @property
    def presses(self) -> int:
        return len(self.timings)

    @property
    def outcomes(self) -> int:
        return sum(t.closes for t in self.timings)


class PressFailed(Exception):
    pass


Think = tuple[float, float] | None  # a rep's think time before a press: (low, high) seconds


class WebhookRig:
    """The reps who press, over the fake Bot API, at the webhook of a running bot."""

    def __init__(self, api: BotAPI, playbook: Playbook, url: str, bot_pid: int) -> None:
        self.api = api
        self.playbook = playbook
        self.url = url
        self.bot_pid = bot_pid
        self.run = WebhookRun()

    async def phase(
        self, users: Sequence[User], seconds: float, think: Think, seed: int
    ) -> WebhookRun:
        """Every rep works his feed at once until the time is up; the phase's figures."""
        self.run = run = WebhookRun()
        violations = len(self.api.violations)
        cpu, fake_cpu = _cpu_seconds(self.bot_pid), time.process_time()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(
                self.work(user, deadline, think, random.Random(seed + i))
                for i, user in enumerate(users)
            )
        )
        run.seconds = time.perf_counter() - started
        run.bot_cpu_seconds = _cpu_seconds(self.bot_pid) - cpu
        run.fake_cpu_seconds = time.process_time() - fake_cpu
        run.violations = len(self.api.violations) - violations
        for violation in self.api.violations[violations : violations + 5]:
            print(f"Bot API violation: {violation}", flush=True)
        return run

    async def deliver(self, update: Json, chat_id: int) -> tuple[WebhookDelivery, list[Call]]:
        """POST one update like Telegram; the Bot API calls made for it (its chat, its answer).

        The webhook answers once the update is handled, so by then they have all arrived."""
        since = len(self.api.sent)
        delivery = await self.api.post_update(self.url, update)
        if delivery.status != 200:
            raise PressFailed(f"webhook answered {delivery.status}")
        query_id = update.get("callback_query", {}).get("id")
        calls = [
            c
            for c in self.api.sent[since:]
            if c.chat_id == chat_id or (query_id and c.params.get("callback_query_id") == query_id)
        ]
        if not all(c.ok for c in calls):
            raise PressFailed(", ".join(f"{c.method}({c.error_code or 'ok'})" for c in calls))
        return delivery, calls

    async def first_card(self, user: User) -> int | None:
        """/next: the message id of the rep's first card (None if he has nothing to do)."""
        _, calls = await self.deliver(self.api.command(user, "next"), user.id)
        return _sent_card(calls)

    async def work(self, user: User, deadline: float, think: Think, rng: random.Random) -> None:
        """One rep's loop: press an outcome on the card in front of him, take the next."""
        card = await self.first_card(user)
        while card is not None and time.perf_counter() < deadline:
            task_id = card_task(self.api.find_message(user.id, card))
            if task_id is None:
                break
            presses = press_data(self.playbook, task_id, pick_outcome(rng))
            calls: list[Call] = []
            try:
                for n, data in enumerate(presses, start=1):
                    if think is not None:  # also spreads the reps' first presses
                        await asyncio.sleep(rng.uniform(*think))
                    calls = await self._timed_press(user, data, card, n == len(presses))
            except PressFailed as failure:
                self.run.failures += 1
                print(f"press failed for rep {user.id}: {failure}", flush=True)
                card = await self.first_card(user)
                continue
            card = _sent_card(calls)
        if card is None or card_task(self.api.find_message(user.id, card)) is None:
            self.run.reps_out_of_work += 1

    async def _timed_press(self, user: User, data: str, card: int, closes: bool) -> list[Call]:
        update = self.api.callback(user, data, card)  # strict: the data is on the card now
        delivery, calls = await self.deliver(update, user.id)
        answers = [c for c in calls if c.method.lower() == "answercallbackquery"]
        if len(answers) != 1:
            raise PressFailed(f"{len(answers)} answers to one press")
        if closes and not any(
            c.method.lower() == "editmessagetext" and "✅" in str(c.result.get("text", ""))
            for c in calls
        ):
            raise PressFailed(f"{data} did not close the card: {answers[0].params.get('text')}")
        since_post = [c.time - delivery.sent_at for c in calls]
        self.run.timings.append(
            Timing(closes, answers[0].time - delivery.sent_at, min(since_post), max(since_post))
        )
        return calls


def _sent_card(calls: Sequence[Call]) -> int | None:
    """The message id of the card the bot sent among calls (the next card in conveyor mode)."""
    for call in calls:
        if call.method.lower() == "sendmessage" and card_task(call.result) is not None:
            return int(call.result["message_id"])
    return None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; a tiny read)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def running_bot(api: BotAPI, store_url: str) -> AsyncIterator[tuple[int, str]]:
    """`nextstep run` in webhook mode on its own process; yields (pid, webhook url).

    A process of its own, as in production: the fake Bot API and the reps (Telegram's side)
    do not take their CPU time and garbage collections out of the bot's."""
    port = free_port()
    webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env.update(
        PYTHONPATH=str(ROOT),
        NEXTSTEP_BOT_TOKEN=api.token,
        NEXTSTEP_TELEGRAM_API=api.base_url,
        NEXTSTEP_DATABASE_URL=store_url,
        NEXTSTEP_WEB_LISTEN=f"127.0.0.1:{port}",
        NEXTSTEP_WEBHOOK_URL=webhook_url,
        NEXTSTEP_WEBHOOK_SECRET=WEBHOOK_SECRET,
        NEXTSTEP_BOT_USERNAME=api.me["username"],
    )
    with tempfile.TemporaryDirectory(prefix="nextstep_webhook_bench_") as folder:
        log_path = Path(folder) / "bot.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cli", "run", cwd=folder, env=env, stdout=log, stderr=log
            )
        try:
            await api.wait_for("setWebhook", timeout=BOT_START_SECONDS)
            # The menus of every employee with a Telegram id go out in the background at start.
            await api.wait_count("setMyCommands", 1 + REPS, timeout=BOT_START_SECONDS)
            yield process.pid, webhook_url
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(BOT_STOP_SECONDS):
                await process.wait()
            if process.returncode != 0:
                raise RuntimeError(f"nextstep run exited with {process.returncode}")
        except BaseException:
            print(log_path.read_text(errors="replace")[-3000:], flush=True)
            raise
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def webhook_phases(
    store_url: str, playbook: Playbook, rep_ids: Sequence[int], seconds: float, seed: int
) -> tuple[WebhookRun, WebhookRun]:
    """16 reps press through the bot's webhook: at work, then flat out."""
    users = [User(FIRST_TG_ID + i, f"Rep {i + 1}", language_code="ru") for i in range(REPS)]
    for rep_id, user in zip(rep_ids, users, strict=True):
        await Employee.filter(id=rep_id).update(tg_id=user.id, lang=None)
    async with BotAPI() as api, running_bot(api, store_url) as (pid, webhook_url):
        rig = WebhookRig(api, playbook, webhook_url, pid)
        at_work = await rig.phase(users, AT_WORK_LENGTH * seconds, REP_THINK_SECONDS, seed)
        flat_out = await rig.phase(users, seconds, None, seed + REPS)
    return at_work, flat_out


# --- the baselines --------------------------------------------------------------------------


def _press(task_id: int, rep: Employee, outcome: Outcome) -> Press:
    return Press(task_id, outcome.button, rep, reason=outcome.reason)


async def engine_phase(crm: Crm, reps: Sequence[Employee], seconds: float, seed: int) -> Run:
    """apply_outcome alone on the reps' open tasks, most overdue first, 16 at a time."""
    by_id = {rep.id: rep for rep in reps}
    rows = (
        await Task.filter(status="open", assignee_id__in=list(by_id))
        .order_by("due_at", "id")
        .limit(int(seconds * 4000))
        .values_list("id", "assignee_id")
    )
    rng = random.Random(seed)
    work = iter([(int(t), by_id[int(a)], pick_outcome(rng)) for t, a in rows])

    async def press(item: tuple[int, Employee, Outcome]) -> bool:
        task_id, rep, outcome = item
        return (await apply_outcome(crm, _press(task_id, rep, outcome))).status == Status.DONE

    return await timed(seconds, REPS, work, press)


async def engine_feed_phase(crm: Crm, reps: Sequence[Employee], seconds: float, seed: int) -> Run:
    """Each rep in a closed loop: next_task, then apply_outcome on it (a conveyor press's crm)."""
    run = Run()
    deadline = time.perf_counter() + seconds

    async def rep_loop(rep: Employee, rng: random.Random) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            task = await next_task(crm, rep)
            if task is None:
                return
            out = await apply_outcome(crm, _press(task.id, rep, pick_outcome(rng)))
            run.latencies.append(time.perf_counter() - started)
            run.ops += 1
            run.failures += out.status != Status.DONE

    started = time.perf_counter()
    await asyncio.gather(*(rep_loop(rep, random.Random(seed + i)) for i, rep in enumerate(reps)))
    run.seconds = time.perf_counter() - started
    return run


# --- one database ---------------------------------------------------------------------------


@dataclass
class Figures:
    kind: str
    deals: int
    engine: Run
    engine_feed: Run
    at_work: WebhookRun
    flat_out: WebhookRun

    def phases(self) -> tuple[tuple[str, WebhookRun], ...]:
        return (("at work", self.at_work), ("flat out", self.flat_out))


async def _reps(ids: Sequence[int]) -> list[Employee]:
    found = {e.id: e for e in await Employee.filter(id__in=list(ids))}
    return [found[i] for i in ids]


async def _phase(name: str, kind: str, step: Awaitable[Run]) -> Run:
    run = await step
    print(f"{kind:8} {name:28} {run.line()}", flush=True)
    return run


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
            # The webhook first: the leads the reps claim once their own due tasks run out
            # come from the same team queues the engine + feed baseline claims from.
            at_work, flat_out = await webhook_phases(
                store_url, crm.playbook, info.reps[:REPS], seconds, seed=7
            )
            print(f"{kind:8} webhook done", flush=True)
            engine_reps = await _reps(info.reps[REPS : 2 * REPS])
            feed_reps = await _reps(info.reps[2 * REPS : 3 * REPS])
            engine = await _phase(
                "engine, 16 at a time", kind, engine_phase(crm, engine_reps, seconds, seed=3)
            )
            engine_feed = await _phase(
                "engine + feed, 16 reps", kind, engine_feed_phase(crm, feed_reps, seconds, 5)
            )
        figures = Figures(kind, deals, engine, engine_feed, at_work, flat_out)
        for line in webhook_lines(figures):
            print(line, flush=True)
        return figures


def webhook_lines(f: Figures) -> list[str]:
    lines = []
    for phase, w in f.phases():
        lines.append(
            f"{f.kind:8} webhook {phase}, {REPS} reps: {w.presses:,} presses ({w.outcomes:,} "
            f"outcomes) in {w.seconds:.1f} s, {w.failures} failed, {w.violations} Bot API "
            f"violations, {w.reps_out_of_work} reps ran out of work; the bot's process used "
            f"{w.bot_cpu_seconds:.1f} s of CPU, "
            f"{1000 * w.bot_cpu_seconds / max(1, w.presses):.1f} ms a press; the fake Bot API "
            f"and the reps {w.fake_cpu_seconds:.1f} s"
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
    """Figures next to the baselines and the targets of issue 3."""
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
        ratio = (
            f.flat_out.series("last", closes=True).per_second / f.engine_feed.per_second
            if f.engine_feed.per_second
            else 0.0
        )
        rows.append(
            ("webhook/engine+feed outcomes per second, flat out", db, f"{ratio:.2f}", "", "")
        )
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
