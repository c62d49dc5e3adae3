"""The clock: APScheduler 3 ticks, the database decides what is due.

APScheduler keeps jobs in memory per process, so it is used only as a metronome (one interval
job a second; its job stores are not shared by several workers): each tick claims due pushes
with one `UPDATE … RETURNING`, exactly once across processes and restarts. Other areas register
their periodic work (reminders, digests) with `Clockwork.add_job`; such a job must decide from the
database and `crm.now()` what to do, since tests run every job on each `tick()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.health import STORE, Outages, is_store_outage
from bot.notifier import BotNotifier
from crm.context import Crm
from crm.leads import escalations
from crm.notices import Notice, NoticeKind
from storage.claims import claim_due_pushes, release_push
from storage.models import Employee

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]
# Worth another try on the next tick; anything else (a bad request, a bug) would fail again.
TRANSIENT = (
    TelegramNetworkError, TelegramRetryAfter, TelegramServerError, OSError, asyncio.TimeoutError,
)
# Seconds between looks for leads waiting too long: one indexed query, minutes of slack matter not.
ESCALATION_INTERVAL = 15.0


@dataclass
class PushCounters:
    pushed: int = 0
    released: int = 0
    failed: int = 0
    ticks: int = 0


@dataclass(frozen=True)
class _PeriodicJob:
    name: str
    func: Job
    seconds: float


class Clockwork:
    def __init__(
        self, crm: Crm, notifier: BotNotifier, *, batch: int = 200, push_interval: float = 1.0,
        outages: Outages | None = None,
    ) -> None:
        self.crm = crm
        self.outages = outages or Outages()
        self.notifier = notifier
        self.batch = batch
        self.push_interval = push_interval
        self.counters = PushCounters()
        self._jobs: list[_PeriodicJob] = [
            _PeriodicJob("due_pushes", self.push_due, push_interval),
            _PeriodicJob("escalations", self.escalate, ESCALATION_INTERVAL),
        ]
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[object]] = set()

    def add_job(self, func: Job, seconds: float, *, name: str | None = None) -> None:
        """Run `func()` every `seconds` (first time at start); call before `start()`."""
        if self._scheduler is not None:
            raise RuntimeError("add jobs before the clockwork starts")
        self._jobs.append(_PeriodicJob(name or func.__qualname__, func, seconds))

    def start(self) -> None:
        # Two INFO lines a second per job would drown the log; failures are logged by _guarded.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        for job in self._jobs:
            scheduler.add_job(
                self._guarded(job), IntervalTrigger(seconds=job.seconds), id=job.name,
                next_run_time=now,  # missed work (pushes due while we were down) goes out at once
                coalesce=True,  # ticks missed while one ran late collapse into one run...
                misfire_grace_time=None,  # ...which runs however late: a tick is never dropped
                max_instances=1,
            )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Stop ticking and wait for running jobs (they hold claims to settle)."""
        if self._scheduler is None:
            return
        self._scheduler.shutdown(wait=False)
        self._scheduler = None
        await asyncio.gather(*self._running, return_exceptions=True)

    async def tick(self) -> None:
        """Run every job once, now, in registration order (tests drive the clock this way)."""
        for job in self._jobs:
            await self._guarded(job)()

    def _guarded(self, job: _PeriodicJob) -> Job:
        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job.func()
            except Exception as exc:
                if is_store_outage(exc):
                    self.outages.down(STORE, exc)  # one warning, not a traceback a tick
                else:
                    log.exception("periodic job %s failed", job.name)
            finally:
                if task is not None:
                    self._running.discard(task)
        return run

    async def push_due(self) -> int:
        """Push every due task's card to its assignee, once; returns how many went out."""
        self.counters.ticks += 1
        pushed = 0
        while True:
            claims = await claim_due_pushes(self.crm.now(), self.batch)
            if not claims:  # the usual idle tick: not even the employee query
                return pushed
            # The batch's assignees in one query, not one per push. If it fails, nothing was
            # sent: the claims go back for the next tick, as a failed push's claim does.
            try:
                assignees = await Employee.in_bulk({e for _, e in claims})
            except Exception:
                for task_id, _ in claims:
                    await release_push(task_id)
                raise
            results = await asyncio.gather(*(self._push(t, e, assignees.get(e)) for t, e in claims))
            pushed += sum(results)
            # A short batch means the backlog is empty; a released claim would be re-claimed
            # at once, so it waits for the next tick instead.
            if len(claims) < self.batch or not all(results):
                return pushed

    async def _push(self, task_id: int, employee_id: int, assignee: Employee | None) -> bool:
        try:
            told = await self.notifier.tell(
                assignee, Notice(employee_id, NoticeKind.DUE, task_id=task_id)
            )
        except TRANSIENT as exc:
            self.counters.released += 1
            log.warning("push of task %s failed (%s): will retry", task_id, exc)
            await release_push(task_id)
            return False
        except Exception:
            self.counters.failed += 1
            log.exception("push of task %s failed for good", task_id)
            return True
        if not told:
            # He blocked the bot: the card waits unclaimed (the claim skips him) until he is back.
            await release_push(task_id)
            return True
        self.counters.pushed += 1
        return True

    async def escalate(self) -> int:
        """Alert the overseers again of leads still waiting past the playbook's escalate_after;
        claimed in the store, so of several workers one alerts. Returns the notices sent."""
        notices = await escalations(self.crm)
        for notice in notices:
            try:
                await self.notifier.notify(notice)
            except Exception:
                log.exception("escalation notice to employee %s failed", notice.employee_id)
        return len(notices)

