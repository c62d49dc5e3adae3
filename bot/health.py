"""Whether what the running bot depends on answers: Telegram, the store and (if shared) Redis.

Either going away for a while is not fatal. What needs it tries again (polling backs off, the
clock ticks again, Telegram redelivers a webhook update that failed), /healthz says not ready
meanwhile, and the log gets one warning when the outage starts and one line when it ends,
not a line or a traceback per retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import redis.exceptions
from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import Response, TelegramMethod
from redis.asyncio import Redis
from tortoise import connections
from tortoise.exceptions import DBConnectionError

log = logging.getLogger(__name__)

TELEGRAM = "Telegram"
STORE = "the store"
REDIS = "Redis"
# What redis-py raises while Redis is away (restarting): the update fails, Telegram retries it.
REDIS_OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# What asyncpg and Tortoise raise while PostgreSQL is away (connections cut, or refused).
# InternalClientError ("another operation is in progress") is a cut connection that Tortoise
# reconnects while a second query of this process was waiting on it.
STORE_OUTAGES = (
    OSError, DBConnectionError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.InternalClientError, asyncpg.ObjectNotInPrerequisiteStateError,
    asyncpg.AdminShutdownError,
)
# Lines (by logger) that libraries log on every retry while something is away, asyncpg's with
# a traceback: aiogram's polling for each failed getUpdates and back-off sleep, asyncpg's pool
# for each reconnect. Outages tells the outage once instead.
_RETRY_LINES = {
    "aiogram.dispatcher": ("Failed to fetch updates", "Sleep for", "Connection established"),
    "asyncpg.pool": ("Failed to restore the pool connection floor",),
    "aiogram.event": (),  # "Cause exception while process update", with the traceback
    "aiohttp.server": (),  # "Error handling request" (webhook), with the traceback
}


class Outages:
    """What is unreachable now, and since when."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}
        # More parts /healthz shows by key (each mailbox's link): reported, not judged, as the
        # bot serves its users without them.
        self.reports: dict[str, Callable[[], object]] = {}

    def down(self, what: str, reason: BaseException) -> None:
        if what not in self._since:
            self._since[what] = time.monotonic()
            log.warning("%s is unreachable (%s): retrying until it is back", what,
                        str(reason).splitlines()[0] if str(reason) else type(reason).__name__)

    def up(self, what: str) -> None:
        since = self._since.pop(what, None)
        if since is not None:
            log.info("%s is back after %.0f s", what, time.monotonic() - since)

    def is_down(self, what: str) -> bool:
        return what in self._since


def is_store_outage(exc: BaseException) -> bool:
    link: BaseException | None = exc
    while link is not None:
        if isinstance(link, STORE_OUTAGES):
            return True
        link = link.__cause__ or link.__context__
    return False


async def store_reachable(outages: Outages) -> bool:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:
        if not is_store_outage(exc):
            log.exception("health check: the store failed")
        outages.down(STORE, exc)
        return False
    outages.up(STORE)
    return True


class TelegramWatch(BaseRequestMiddleware):
    """Marks Telegram down on a network error of any Bot API call, up on any answer."""

    def __init__(self, outages: Outages) -> None:
        self.outages = outages

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        try:
            response = await make_request(bot, method)
        except TelegramNetworkError as exc:
            self.outages.down(TELEGRAM, exc)
            raise
        self.outages.up(TELEGRAM)
        return response


async def probe_telegram(bot: Bot, outages: Outages) -> None:
    """A clock job: while Telegram is down, ask it (in webhook mode nothing else would)."""
    if outages.is_down(TELEGRAM):
        with contextlib.suppress(TelegramNetworkError):
            await bot.get_me()


async def probe_store(outages: Outages) -> None:
    """A clock job: while the store is down, ask it, so the log says when it is back."""
    if outages.is_down(STORE):
        await store_reachable(outages)


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, (TelegramNetworkError, *REDIS_OUTAGES)) or is_store_outage(exc)


async def redis_reachable(client: Redis, outages: Outages) -> bool:
    try:
        async with asyncio.timeout(2):
            await client.ping()  # type: ignore[misc]
    except (*REDIS_OUTAGES, TimeoutError) as exc:
        outages.down(REDIS, exc)
        return False
    outages.up(REDIS)
    return True


class _QuietRetries(logging.Filter):
    """Drops a library's line per retry, and the traceback of an update that failed because
    Telegram or the store was away (Telegram delivers it again; polling goes on)."""

    def __init__(self, lines: tuple[str, ...]) -> None:
        super().__init__()
        self.lines = lines

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and is_outage(record.exc_info[1]):
            return False
        return not str(record.msg).startswith(self.lines)


def quiet_retries() -> None:
    """Leave an outage's story to Outages: drop the libraries' line per retry or failure."""
    for name, lines in _RETRY_LINES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietRetries) for f in logger.filters):
            logger.addFilter(_QuietRetries(lines))
