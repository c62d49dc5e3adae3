"""One worker at a time runs the singletons: the parts that must not run twice (registering
the webhook, the employees' menus, the SIP listener), chosen by a lease in the store.

A lease row (storage/leases.py), not a PostgreSQL session advisory lock: behind PgBouncer in
transaction mode a session has no server connection of its own to hold such a lock on. The
leader renews its lease every RENEW seconds for TTL; the others try to take it as often, so
when the leader dies (kill -9, a lost host) one of them holds it at most TTL + RENEW seconds
later. A leader that cannot renew (the store unreachable) stops its singletons before its
lease can have run out, so two never run at once. On SQLite the one process is the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.health import is_store_outage
from crm.clock import Clock, SystemClock
from storage import leases

log = logging.getLogger(__name__)

LEADER = "leader"
TTL = 6.0
RENEW = 2.0


class Closable(Protocol):
    async def close(self) -> None: ...


@dataclass(frozen=True)
class Singleton:
    """A part one worker runs: `start()` returns what to close when it stops being the leader,
    or None (nothing to close: configured off, or a one-off step such as the webhook)."""

    name: str
    start: Callable[[], Awaitable[Closable | None]]


def holder_id() -> str:
    """This process among all workers of all hosts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leadership:
    def __init__(
        self, singletons: Sequence[Singleton], *, clock: Clock | None = None,
        ttl: float = TTL, renew: float = RENEW,
    ) -> None:
        self.singletons = singletons
        # Wall time, not the crm's clock: leases are kept between processes in real seconds
        # (tests stand the crm's clock still or move it by hours).
        self.clock = clock or SystemClock()
        self.ttl = ttl
        self.renew = renew
        self.holder = holder_id()
        self.leading = False
        self._announced = False  # "this worker leads" was logged
        self.takeovers = 0  # times this worker became the leader
        self._running: list[tuple[str, Closable]] = []
        self._held_until = 0.0  # monotonic: when our lease may have run out for the others
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Try once now (a worker alone, or the first, leads from its start; a singleton
        failing to start fails the start), then keep trying in the background."""
        if await self._take():
            await self._lead()
        self._task = asyncio.create_task(self._loop(), name="leadership")

    async def stop(self) -> None:
        """Stop the singletons and hand the lease on at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        was_leading = self.leading
        await self._follow()
        if was_leading:
            with contextlib.suppress(Exception):
                await leases.give_up(LEADER, self.holder)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew)
            try:
                held = await self._take()
            except Exception:
                log.exception("leadership: step failed")
                held = False
            try:
                if held and not self.leading:
                    await self._lead()
                elif not held and self.leading and time.monotonic() >= self._held_until:
                    await self._follow()
            except Exception:
                log.exception("leadership: a singleton failed to start; handing the lease on")
                await self._follow()
                with contextlib.suppress(Exception):
                    await leases.give_up(LEADER, self.holder)

    async def _take(self) -> bool:
        asked = time.monotonic()
        try:
            held = await leases.take(
                LEADER, self.holder, self.clock.now(), timedelta(seconds=self.ttl)
            )
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            return False  # not renewed: _loop stops the singletons before the lease runs out
        if held:
            # Counted from before the statement: the lease may run out for the others from
            # then, less one renewal of margin for a step that comes late.
            self._held_until = asked + self.ttl - self.renew
        return held

    async def _lead(self) -> None:
        self.leading = True
        self.takeovers += 1
        for singleton in self.singletons:
            part = await singleton.start()
            if part is not None:
                self._running.append((singleton.name, part))
        # Told once its singletons run: one failing to start (a port in use) is the start's
        # one line, not a lead and a step down around it.
        log.info("this worker leads (%s)", self.holder)
        self._announced = True

    async def _follow(self) -> None:
        if self._announced:
            log.info("this worker no longer leads")
        self.leading = self._announced = False
        while self._running:
            name, part = self._running.pop()
            try:
                await part.close()
            except Exception:
                log.exception("stopping %s failed", name)
