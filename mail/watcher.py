"""One mailbox watched: IMAP IDLE, renewed before the server's 30 minutes, reconnecting with a
bounded backoff, and catching up by UID after every wake-up, reconnect or restart.

aioimaplib's IDLE waits forever on a dropped connection (a server's BYE, a killed process), so
every wait here is bounded and also ends when the connection is reported lost. The position
(UIDVALIDITY, last UID) lives in the store, so a restart, or a second worker on the same
mailbox, goes on from where the letters were handled; each letter is claimed before handling
(crm.mail), so two workers never handle one twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aioimaplib

from bot.health import is_store_outage
from config.mail import MailboxUrl
from mail.imap import ImapFailure, close, describe, fetch, open_session, uids_after
from storage import mail as positions

log = logging.getLogger(__name__)

# What the service does with one letter: (raw bytes, UIDVALIDITY, UID); it never raises for a
# letter it cannot read (it counts it), only when the store is away (the watcher retries).
Handler = Callable[[MailboxUrl, bytes, int, int], Awaitable[None]]


class Link(enum.StrEnum):
    CONNECTING = "connecting"
    UP = "ok"
    DOWN = "unreachable"


@dataclass(frozen=True)
class Timing:
    command: float = 30.0  # any single IMAP command
    renew: float = 25 * 60.0  # IDLE is ended and begun again this often (servers cut at 30 min)
    backoff_first: float = 1.0
    backoff_max: float = 60.0


class _Lost(Exception):
    pass


class Watcher:
    def __init__(self, box: MailboxUrl, handle: Handler, timing: Timing | None = None) -> None:
        self.box = box
        self.handle = handle
        self.timing = timing or Timing()
        self.link = Link.CONNECTING
        self.reconnects = 0
        self._lost = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._was_up = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"mail {self.box.key}")

    async def stop(self) -> None:
        """Finish the letter in hand, then log out."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.timing.command * 2)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        delay = self.timing.backoff_first
        while not self._stopping.is_set():
            try:
                await self._session()
            except (ImapFailure, _Lost, TimeoutError, OSError, aioimaplib.AioImapException) as exc:
                self._down("connection lost" if isinstance(exc, _Lost) else describe(exc))
            except Exception as exc:  # the store away while handling: retried like a drop
                if not is_store_outage(exc):
                    log.exception("mailbox %s: handling failed", self.box.key)
                self._down(describe(exc))
            if self._stopping.is_set():
                break
            if self._was_up:  # a drop after a good session starts the backoff over
                delay, self._was_up = self.timing.backoff_first, False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self.timing.backoff_max)
            self.reconnects += 1

    def _down(self, why: str) -> None:
        self._was_up = self.link == Link.UP
        if self.link != Link.DOWN:
            log.warning("mailbox %s is unreachable (%s): reconnecting until it is back",
                        self.box.key, why)
        self.link = Link.DOWN

    async def _session(self) -> None:
        self._lost.clear()
        imap, selected = await open_session(
            self.box, self.timing.command, lambda _exc: self._lost.set()
        )
        try:
            last = await positions.start_position(self.box.key, selected.uidvalidity,
                                                  selected.uidnext)
            if self.link == Link.DOWN:
                log.info("mailbox %s is back", self.box.key)
            self.link = Link.UP
            while not self._stopping.is_set():
                last = await self._catch_up(imap, selected.uidvalidity, last)
                await self._idle(imap)
        finally:
            await close(imap, self.timing.command)

    async def _catch_up(self, imap: aioimaplib.IMAP4, uidvalidity: int, last: int) -> int:
        """Handle the letters above `last` until a search finds none: a letter the server
        announced during a FETCH (aioimaplib drops that EXISTS) would not wake the next IDLE."""
        while not self._stopping.is_set():
            found = await asyncio.wait_for(uids_after(imap, last), self.timing.command)
            if not found:
                break
            for uid in found:
                if self._stopping.is_set():
                    break  # stop() waits for the letter in hand, not for the rest
                raw = await asyncio.wait_for(fetch(imap, uid), self.timing.command)
                if raw is not None:
                    await self.handle(self.box, raw, uidvalidity, uid)
                await positions.advance(self.box.key, uidvalidity, uid)
                last = uid
        return last

    async def _idle(self, imap: aioimaplib.IMAP4) -> None:
        """Wait in IDLE for news, the renewal time, a lost connection or stop; then end IDLE."""
        if self._lost.is_set():
            raise _Lost
        idle = await asyncio.wait_for(imap.idle_start(timeout=self.timing.renew),
                                      self.timing.command)
        push = asyncio.ensure_future(imap.wait_server_push(timeout=self.timing.renew + 5))
        waits = [push, asyncio.ensure_future(self._lost.wait()),
                 asyncio.ensure_future(self._stopping.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits[1:]:
                wait.cancel()
        lines: list[bytes] = []
        if push.done() and not push.cancelled() and push.exception() is None:
            lines = [bytes(line) for line in push.result()]
        else:
            push.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await push
        if self._lost.is_set() or any(line.startswith(b"BYE") for line in lines):
            raise _Lost
        imap.idle_done()
        await asyncio.wait_for(idle, self.timing.command)
