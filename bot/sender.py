"""The one outbound path for pushes: queued per chat, rate-limited, 429-aware, nothing dropped.

Direct replies inside handlers go through aiogram (message.answer / edit_text); everything the
bot says on its own initiative (due cards, notices, digests, relayed client messages) goes
through `Sender`, so Telegram's limits (about 30 messages/s per bot, about 1/s per chat, 20/min
per group; past them it answers 429 with retry_after) hold however many pushes fall due at once.

Each chat has its own FIFO and worker task, so one busy chat never holds up the others and a
chat's messages keep their order. A worker waits for its chat's spacing, then for a token from
the bot-wide bucket. The buckets are a dozen lines of monotonic-clock arithmetic: the pinned
dependencies have no rate limiter, and a limiter per chat is only a timestamp, which a
general-purpose limiter object per chat would not make simpler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import GetUpdates, SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import Response
from aiogram.types import InputFile, Message

log = logging.getLogger(__name__)

T = TypeVar("T")
ForbiddenHook = Callable[[int], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Rates:
    """Telegram publishes no exact numbers; these are the ones its FAQ names."""

    per_bot: float = 30.0  # messages per second, all chats together
    per_chat: float = 1.0  # messages per second to one chat
    burst: int = 30  # how many bot-wide tokens may pile up while idle


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved; `acquire` waits for one, FIFO."""

    def __init__(
        self, rate: float, capacity: float, *,
        monotonic: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamp = monotonic()
        self._lock = asyncio.Lock()  # asyncio.Lock wakes waiters in arrival order

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._sleep((1 - self._tokens) / self.rate)


@dataclass
class RequestCounters:
    retry_after: int = 0  # 429 answers honoured
    retry_after_seconds: float = 0.0


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Honour 429 `retry_after` on every Bot API call but getUpdates (polling backs off itself).

    A 429 proves nothing was sent, so the retry cannot double a message.
    """

    def __init__(self, *, max_attempts: int = 10, sleep: Sleep = asyncio.sleep) -> None:
        self.max_attempts = max_attempts
        self.counters = RequestCounters()
        self._sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        if isinstance(method, GetUpdates):
            return await make_request(bot, method)
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt >= self.max_attempts:
                    raise
                attempt += 1
                self.counters.retry_after += 1
                self.counters.retry_after_seconds += exc.retry_after
                log.warning("429 on %s: retry in %ss", type(method).__name__, exc.retry_after)
                await self._sleep(exc.retry_after)


class ResponseTypeCache(BaseRequestMiddleware):
    """Keeps aiogram's `Response[T]` classes alive, one per result type.

    aiogram parametrizes `Response[method.__returning__]` on every call, and pydantic caches
    parametrized generics only weakly: after a garbage collection the next call builds the class
    again (core schema and validator, 2-5 ms of CPU, 15% of the bot's time under load).
    """

    def __init__(self) -> None:
        self._types: dict[Any, type[Response[Any]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        returning = method.__returning__
        if returning not in self._types:
            self._types[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


@dataclass
class SenderCounters:
    sent: int = 0
    forbidden: int = 0
    failed: int = 0


@dataclass
class _Outgoing:
    method: TelegramMethod[Any]
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Sender:
    """Queue + limiter in front of a Bot.

    `send*` resolve when Telegram accepted the message (its Message), or None when the recipient
    blocked the bot (`on_forbidden(chat_id)` was called; a 403 is never retried). Other errors
    propagate to the caller, who knows whether to try again later (the scheduler does).
    """

    def __init__(
        self, bot: Bot, *, on_forbidden: ForbiddenHook | None = None, rates: Rates = Rates(),
        monotonic: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.rates = rates
        self.on_forbidden = on_forbidden
        self.counters = SenderCounters()
        self._monotonic = monotonic
        self._sleep = sleep
        self._bot_bucket = TokenBucket(
            rates.per_bot, rates.burst, monotonic=monotonic, sleep=sleep
        )
        self._queues: dict[int | str, deque[_Outgoing]] = {}
        self._workers: dict[int | str, asyncio.Task[None]] = {}
        self._last_sent: dict[int | str, float] = {}

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def send(
        self, chat_id: int | str, text: str, reply_markup: Any = None, **kw: Any
    ) -> Message | None:
        return await self.submit(
            SendMessage(chat_id=chat_id, text=text, reply_markup=reply_markup, **kw)
        )

    async def send_file(
        self, chat_id: int | str, kind: str, file: InputFile | str, caption: str | None = None,
        reply_markup: Any = None, **kw: Any,
    ) -> Message | None:
        """A photo when `kind` is "photo", else a document."""
        if kind == "photo":
            return await self.submit(SendPhoto(
                chat_id=chat_id, photo=file, caption=caption, reply_markup=reply_markup, **kw
            ))
        return await self.submit(SendDocument(
            chat_id=chat_id, document=file, caption=caption, reply_markup=reply_markup, **kw
        ))

    async def submit(self, method: TelegramMethod[T]) -> T | None:
        """Queue any chat-bound method (an edit of a pushed card, say) behind the same limits."""
        chat_id = getattr(method, "chat_id", None)
        if chat_id is None:
            raise ValueError(f"{type(method).__name__} has no chat_id to rate-limit by")
        item = _Outgoing(method)
        self._queues.setdefault(chat_id, deque()).append(item)
        if chat_id not in self._workers:
            self._workers[chat_id] = asyncio.create_task(self._work(chat_id))
        result: T | None = await item.done
        return result

    async def drain(self) -> None:
        """Wait until everything queued so far (and queued meanwhile) went out."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _work(self, chat_id: int | str) -> None:
        queue = self._queues[chat_id]
        try:
            while queue:
                item = queue[0]
                await self._wait_chat_turn(chat_id)
                await self._bot_bucket.acquire()
                self._last_sent[chat_id] = self._monotonic()
                await self._deliver(chat_id, item)
                queue.popleft()
        finally:
            del self._queues[chat_id]
            del self._workers[chat_id]
            self._forget_idle_chats()

    async def _wait_chat_turn(self, chat_id: int | str) -> None:
        last = self._last_sent.get(chat_id)
        if last is not None:
            wait = last + 1 / self.rates.per_chat - self._monotonic()
            if wait > 0:
                await self._sleep(wait)

    async def _deliver(self, chat_id: int | str, item: _Outgoing) -> None:
        try:
            result = await self.bot(item.method)
        except TelegramForbiddenError:
            self.counters.forbidden += 1
            log.info("chat %s blocked the bot: marking it unreachable", chat_id)
            if self.on_forbidden and isinstance(chat_id, int):
                try:
                    await self.on_forbidden(chat_id)
                except Exception:
                    log.exception("on_forbidden(%s) failed", chat_id)
            _settle(item.done, None)
        except Exception as exc:
            self.counters.failed += 1
            _settle(item.done, exc)
        else:
            self.counters.sent += 1
            _settle(item.done, result)

    def _forget_idle_chats(self) -> None:
        """Spacing only matters for a chat sent to within the last interval."""
        horizon = self._monotonic() - 1 / self.rates.per_chat
        for chat_id in [c for c, t in self._last_sent.items() if t < horizon]:
            if chat_id not in self._workers:
                del self._last_sent[chat_id]


def _settle(done: asyncio.Future[Any], outcome: object) -> None:
    """Hand the outcome to the caller, unless the caller stopped waiting (cancelled)."""
    if done.done():
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)
