"""What every handler gets, answered callbacks, in-flight tracking and update de-duplication.

Handler data for every update (ContextMiddleware):
    crm: Crm, sender: Sender, notifier: Notifier, employee: Employee | None (active only),
    lang: "ru" | "en" (employee.lang, else the Telegram language_code when supported, else
    settings.locale); `_()` already speaks `lang` inside the handler.
Callback queries (CallbackDeadlineMiddleware): handlers set `callback_answer.text` /
`.show_alert` and never call `callback.answer()` themselves; the query is answered after the
handler (in webhook mode in the webhook's reply), or earlier when the handler calls
`callback_answer.send_now()`, or blank at the deadline if the handler is slow (then a late text
is dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import CallbackQuery, TelegramObject, Update, User
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis

from bot.i18n import pick_lang, speaking
from bot.sender import Sender
from crm.context import Crm
from crm.notices import Notifier
from crm.staff import employee_by_tg, mark_reachable

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@dataclass
class UpdateCounters:
    handled: int = 0
    failed: int = 0
    duplicates: int = 0


class ContextMiddleware(BaseMiddleware):
    """Outer middleware on `update`: resolves who is writing and in which language."""

    def __init__(
        self, *, crm: Crm, sender: Sender, notifier: Notifier, i18n: I18n, default_lang: str,
        counters: UpdateCounters,
    ) -> None:
        self.crm = crm
        self.sender = sender
        self.notifier = notifier
        self.i18n = i18n
        self.default_lang = default_lang
        self.counters = counters

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        employee = await employee_by_tg(user.id) if user else None
        if employee is not None and not employee.reachable:
            await mark_reachable(employee)  # he wrote or pressed: the bot reaches him again
        lang = pick_lang(
            employee.lang if employee else None,
            user.language_code if user else None,
            default=self.default_lang,
        )
        data.update(
            crm=self.crm, sender=self.sender, notifier=self.notifier, employee=employee, lang=lang,
            i18n=self.i18n,
        )
        try:
            with speaking(self.i18n, lang):
                result = await handler(event, data)
        except Exception:
            self.counters.failed += 1
            raise
        self.counters.handled += 1
        return result


class CallbackReply(CallbackAnswer):
    """The one answer to a callback query. The middleware sends it after the handler; a handler
    that knows its text early calls `send_now()`, so the button's spinner stops while the
    handler goes on. Settings made after the answer went out are dropped.

    `in_webhook_reply`: the answer goes back in the webhook's reply, which leaves as soon as the
    handler ends (one Bot API request fewer); `send_now()` then leaves it there."""

    def __init__(self, query: CallbackQuery, *, in_webhook_reply: bool = False) -> None:
        super().__init__(answered=False)
        self._query = query
        self._in_webhook_reply = in_webhook_reply
        self._sending: asyncio.Future[None] | None = None

    def send_now(self) -> None:
        """Answer with what is set so far, without waiting for the request to be sent."""
        if not self._in_webhook_reply:
            self._send_soon()

    def expire(self) -> None:
        """Answer blank now (the deadline passed) and take no text after."""
        self._send_soon()
        self._disabled = True

    async def settle(self) -> None:
        """Answer if nobody has, and wait until the answer was sent."""
        self._send_soon()
        if self._sending is not None:
            await self._sending

    def as_reply(self) -> AnswerCallbackQuery | None:
        """The answer as a method to return from the update, unless it went out already."""
        if self.answered or self.disabled:
            return None
        self._answered = True
        return self._query.answer(
            text=self.text, show_alert=self.show_alert, url=self.url, cache_time=self.cache_time
        )

    def _send_soon(self) -> None:
        if self.answered or self.disabled:
            return
        self._sending = asyncio.ensure_future(self._send())
        self._answered = True

    async def _send(self) -> None:
        try:
            await self._query.answer(
                text=self.text, show_alert=self.show_alert, url=self.url,
                cache_time=self.cache_time,
            )
        except Exception:
            log.exception("answering callback query %s failed", self._query.id)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in {"text", "show_alert", "url", "cache_time"} and self.answered:
            log.debug("callback answer %s=%r came after the answer; dropped", name, value)
            return
        super().__setattr__(name, value)


class CallbackDeadlineMiddleware(BaseMiddleware):
    """Outer middleware on `callback_query`: every query gets exactly one answer, in time.

    Telegram shows a spinner until the answer and refuses late ones ("query is too old"), so
    the handler runs as a task and the query is answered blank at `deadline` if still running.
    With `in_webhook_reply`, an answer left to the end goes back in the webhook's reply, which
    Telegram carries out as a Bot API request: a press costs one HTTP request fewer (a third
    of an outcome press's requests, half of a menu press's). Its outcome is not reported, which
    an answer does not need: the card the press edits is what the rep reads. A reply lost on its
    way (the connection broken after the handler) loses only the answer: Telegram delivers the
    update again, the copy is skipped as handled, and the spinner stops at Telegram's timeout.
    """

    def __init__(self, deadline: float = 2.0, *, in_webhook_reply: bool = False) -> None:
        self.deadline = deadline
        self.in_webhook_reply = in_webhook_reply

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        reply = data["callback_answer"] = CallbackReply(
            event, in_webhook_reply=self.in_webhook_reply
        )
        work = asyncio.ensure_future(handler(event, data))
        try:
            done, _ = await asyncio.wait({work}, timeout=self.deadline)
            if not done:
                reply.expire()
            result = await work
        except BaseException:
            await reply.settle()
            raise
        if self.in_webhook_reply and not isinstance(result, TelegramMethod):
            answer = reply.as_reply()
            if answer is not None:
                return answer
        await reply.settle()
        return result


class InFlight(BaseMiddleware):
    """Outer middleware on `update`: handlers still running (shutdown waits) and updates done."""

    def __init__(self) -> None:
        self.running = 0
        self.processed = 0
        self._changed = asyncio.Condition()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        self.running += 1
        try:
            return await handler(event, data)
        finally:
            self.running -= 1
            self.processed += 1
            async with self._changed:
                self._changed.notify_all()

    async def wait_idle(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.running == 0)

    async def wait_processed(self, count: int) -> None:
        """Until `count` updates in all went through (handled, failed or skipped)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.processed >= count and not self.running)


class UpdateBusy(Exception):
    """Another worker is still handling this update: answer an error, Telegram retries later."""


class SeenUpdates:
    """Which update_ids are being or were handled: bounded LRU here, Redis if shared.

    Webhook delivery is at-least-once (Telegram retries when the answer is late or an error), so
    an update is claimed before handling and released if handling failed, to be retried. In
    Redis the claim is two states: *working* for a few seconds, renewed while the handler runs,
    then *done* for a day. A worker killed while handling renews nothing, so its claim runs out
    and Telegram's retry is handled by another; a copy arriving while the first is still at
    work waits for its end (done: skipped; released or run out: handled here).
    """

    WORKING = b"working"
    DONE = b"done"

    def __init__(self, *, size: int = 10_000, redis: Redis | None = None, ttl: int = 86_400,
                 bot_id: int = 0, working_seconds: float = 6.0, wait_seconds: float = 20.0
                 ) -> None:
        self.size = size
        self.redis = redis
        self.ttl = ttl
        self.bot_id = bot_id
        self.working_ms = int(working_seconds * 1000)
        self.wait_seconds = wait_seconds
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._working: set[int] = set()
        self._renewing: asyncio.Task[None] | None = None

    def _key(self, update_id: int) -> str:
        return f"nextstep:update:{self.bot_id}:{update_id}"

    async def claim(self, update_id: int) -> bool:
        if update_id in self._recent:
            self._recent.move_to_end(update_id)
            return False
        if self.redis is not None and not await self._claim_shared(update_id):
            return False
        self._recent[update_id] = None
        if len(self._recent) > self.size:
            self._recent.popitem(last=False)
        return True

    async def _claim_shared(self, update_id: int) -> bool:
        assert self.redis is not None
        key = self._key(update_id)
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        while not await self.redis.set(key, self.WORKING, nx=True, px=self.working_ms):
            state = await self.redis.get(key)
            if state is not None and state != self.WORKING:
                return False  # handled
            if state is not None:
                if asyncio.get_running_loop().time() >= deadline:
                    raise UpdateBusy(f"update {update_id} is still being handled elsewhere")
                await asyncio.sleep(0.05)
        self._working.add(update_id)
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.create_task(self._renew(), name="renew update claims")
        return True

    async def _renew(self) -> None:
        """Keep this worker's working claims alive while their handlers run."""
        assert self.redis is not None
        while self._working:
            await asyncio.sleep(self.working_ms / 3000)
            with contextlib.suppress(Exception):  # Redis away: the claims run out, as if we died
                async with self.redis.pipeline(transaction=False) as pipe:
                    for update_id in self._working:
                        pipe.pexpire(self._key(update_id), self.working_ms)
                    await pipe.execute()

    async def done(self, update_id: int) -> None:
        """Handled: copies delivered later are skipped for a day."""
        if self.redis is not None and update_id in self._working:
            self._working.discard(update_id)
            # Redis away now: the update got handled and is answered 200 all the same.
            with contextlib.suppress(Exception):
                await self.redis.set(self._key(update_id), self.DONE, ex=self.ttl)

    async def release(self, update_id: int) -> None:
        self._recent.pop(update_id, None)
        if self.redis is not None:
            self._working.discard(update_id)
            with contextlib.suppress(Exception):
                await self.redis.delete(self._key(update_id))


class DedupMiddleware(BaseMiddleware):
    """Outer middleware on `update`: a redelivered update is skipped, a failed one released."""

    def __init__(self, seen: SeenUpdates, counters: UpdateCounters) -> None:
        self.seen = seen
        self.counters = counters

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        if not await self.seen.claim(event.update_id):
            self.counters.duplicates += 1
            log.info("update %s delivered again: skipped", event.update_id)
            return UNHANDLED
        try:
            result = await handler(event, data)
        except BaseException:
            await self.seen.release(event.update_id)
            raise
        await self.seen.done(event.update_id)
        return result
