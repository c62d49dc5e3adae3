"""Captured events waiting for their handlers: at most `handlers` run at once.

Each handler holds a store connection while it runs, so a flood of calls from a busy PBX must
queue here rather than become unbounded tasks. Finished calls are business events: they wait in
arrival order and are dropped (counted) only beyond `max_queued_calls`. A handler takes up to
`batch` waiting calls at once, which the store writes in one transaction
(crm.calls.record_calls): under a flood that is one commit for many calls, and a lone call is
still handled at once. A ringing event is worth something only while the phone rings: when
`max_queued_rings` wait the oldest gives way, and one older than `ring_shelf_life` by its turn
is dropped (counted). Rings go first when a handler frees up, since they are the ones that spoil.

Every finished call ends in exactly one place: handled, on_call_errors or calls_dropped (until
then it is queued or running); every ring likewise in handled, on_ring_errors or rings_dropped.
A handler that raises fails all the calls it was given, unless it raises an ExceptionGroup: one
exception in it for each call that failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from crm.calltypes import CallRecord, Ringing
from crm.clock import Clock

if TYPE_CHECKING:
    from telephony.listener import ListenerCounters

log = logging.getLogger(__name__)

OnCalls = Callable[[Sequence[CallRecord]], Coroutine[Any, Any, None]]
OnRing = Callable[[Ringing], Coroutine[Any, Any, None]]
Kind = Literal["call", "ring"]
# Overflow is logged on its first drop and then every this many, not once per datagram.
_LOG_DROPS_EVERY = 1000


@dataclass(frozen=True, slots=True)
class BacklogLimits:
    handlers: int = 4  # NEXTSTEP_SIP_HANDLERS
    batch: int = 16  # waiting calls a handler takes at once, written in one transaction
    max_queued_calls: int = 100_000  # a few hundred bytes each: tens of MB at most
    max_queued_rings: int = 1_000
    ring_shelf_life: timedelta = timedelta(seconds=20)  # a screen pop later than this helps no one


class Backlog:
    def __init__(
        self,
        on_calls: OnCalls,
        on_ring: OnRing | None,
        counters: ListenerCounters,
        clock: Clock,
        limits: BacklogLimits | None = None,
    ) -> None:
        self._on_calls = on_calls
        self._on_ring = on_ring
        self._counters = counters
        self._clock = clock
        self._limits = limits or BacklogLimits()
        self._calls: deque[CallRecord] = deque()
        self._rings: deque[tuple[datetime, Ringing]] = deque()
        self._running: dict[asyncio.Task[None], tuple[Kind, int]] = {}  # and how many events

    def add_call(self, record: CallRecord) -> None:
        counters = self._counters
        counters.calls += 1
        if len(self._calls) >= self._limits.max_queued_calls:
            counters.calls_dropped += 1
            if counters.calls_dropped % _LOG_DROPS_EVERY == 1:
                log.error(
                    "%d finished calls wait for a handler: dropped %d so far, latest %s",
                    len(self._calls),
                    counters.calls_dropped,
                    record,
                )
            return
        self._calls.append(record)
        self._start()

    def add_ring(self, ring: Ringing, at: datetime) -> None:
        """`ring` started ringing at `at`; ignored when nobody listens for rings."""
        if self._on_ring is None:
            return
        self._counters.rings += 1
        if len(self._rings) >= self._limits.max_queued_rings:
            self._rings.popleft()
            self._counters.rings_dropped += 1
        self._rings.append((at, ring))
        self._start()

    async def drain(self, give_up_after: timedelta) -> None:
        """Handle everything queued; past `give_up_after`, drop what still waits and cancel what
        runs (both counted as dropped)."""
        try:
            async with asyncio.timeout(give_up_after.total_seconds()):
                while self._running:
                    # Each handler's done callback starts the next one before this wakes up.
                    await asyncio.wait(list(self._running))
        except TimeoutError:
            counters = self._counters
            log.error(
                "shutdown: %d finished calls and %d rings still queued, %d handlers running",
                len(self._calls), len(self._rings), len(self._running),
            )  # fmt: skip
            counters.calls_dropped += len(self._calls)
            counters.rings_dropped += len(self._rings)
            self._calls.clear()
            self._rings.clear()
            running = list(self._running)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _start(self) -> None:
        while len(self._running) < self._limits.handlers and (work := self._next()) is not None:
            kind, size, coroutine = work
            task = asyncio.get_running_loop().create_task(coroutine)
            self._running[task] = kind, size
            task.add_done_callback(self._done)
        counters = self._counters
        counters.handlers_busy = len(self._running)
        counters.calls_queued, counters.rings_queued = len(self._calls), len(self._rings)

    def _next(self) -> tuple[Kind, int, Coroutine[Any, Any, None]] | None:
        if self._rings and self._on_ring is not None:
            now = self._clock.now()
            while self._rings:
                at, ring = self._rings.popleft()
                if now - at <= self._limits.ring_shelf_life:
                    return "ring", 1, self._on_ring(ring)
                self._counters.rings_dropped += 1
        if self._calls:
            calls = self._calls
            batch = [calls.popleft() for _ in range(min(len(calls), self._limits.batch))]
            return "call", len(batch), self._on_calls(batch)
        return None

    def _done(self, task: asyncio.Task[None]) -> None:
        kind, size = self._running.pop(task)
        counters = self._counters
        if task.cancelled():
            if kind == "call":
                counters.calls_dropped += size
            else:
                counters.rings_dropped += size
        elif (error := task.exception()) is not None:
            if isinstance(error, ExceptionGroup):
                size = min(size, len(error.exceptions))
            if kind == "call":
                counters.on_call_errors += size
            else:
                counters.on_ring_errors += size
            log.error("%s handler failed", kind, exc_info=error)
        self._start()
