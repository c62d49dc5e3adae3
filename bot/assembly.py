"""What an App is assembled from: a bot side (a token, its session with 429 retries, its
rate-limited sender), a dispatcher with nextstep's middlewares around its routers, and the SIP
listener's counters as metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiogram import BaseMiddleware, Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation

from bot.access import ScopeMiddleware
from bot.middlewares import (
    CallbackDeadlineMiddleware,
)
from bot.sender import ForbiddenHook, Rates, ResponseTypeCache, RetryAfterMiddleware, Sender
from bot.web import Sample
from config.settings import Settings
from crm.chat import blocked

if TYPE_CHECKING:
    from telephony.listener import SipListener


def load_routers(modules: Iterable[str]) -> list[Router]:
    return [importlib.import_module(name).router for name in modules]


def build_dispatcher(
    routers: Sequence[Router],
    *,
    update_middlewares: Sequence[BaseMiddleware],
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
    callback_deadline: float = 2.0,
    webhook: bool = False,
) -> Dispatcher:
    """A dispatcher with `routers` in the given order; update middlewares run outermost first.
    `webhook`: its updates come through the webhook, whose reply can carry a button's answer."""
    # Updates of one user are handled one after the other (two quick messages from a new client
    # must not open two deals); RedisEventIsolation does the same across processes.
    dispatcher = Dispatcher(
        storage=storage or MemoryStorage(),
        events_isolation=events_isolation or SimpleEventIsolation(),
    )
    for middleware in update_middlewares:
        dispatcher.update.outer_middleware(middleware)
    dispatcher.callback_query.outer_middleware(
        CallbackDeadlineMiddleware(callback_deadline, in_webhook_reply=webhook)
    )
    dispatcher.callback_query.outer_middleware(ScopeMiddleware())
    dispatcher.include_routers(*routers)
    return dispatcher


def release_routers(dispatcher: Dispatcher) -> None:
    """Detach the module-level routers so another dispatcher (a restarted App) can take them.

    aiogram has no public detach; a router refuses a second parent, and handler modules keep
    one router each for the process.
    """
    for router in dispatcher.sub_routers:
        router._parent_router = None
    dispatcher.sub_routers.clear()


def build_bot_side(
    settings: Settings, token: str, rates: Rates | None = None,
    on_forbidden: ForbiddenHook = blocked,
) -> BotSide:
    """A bot on settings.telegram_api with 429 retries and its rate-limited sender."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api))
    retry = RetryAfterMiddleware()
    session.middleware(ResponseTypeCache())
    session.middleware(retry)
    bot = Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    sender = Sender(bot, on_forbidden=on_forbidden, rates=rates or Rates())
    return BotSide(bot, sender, retry)


@dataclass
class BotSide:
    """One bot token with what serves it."""

    bot: Bot
    sender: Sender
    retry: RetryAfterMiddleware
    dispatcher: Dispatcher = dataclasses.field(default_factory=Dispatcher)
    polling: asyncio.Task[None] | None = None


def sip_samples(listener: SipListener | None) -> list[Sample]:
    """The SIP listener's counters as metrics (`run` and `sip-listen` serve them)."""
    if listener is None:
        return []
    counters = listener.counters
    return [
        Sample(f"sip_{name}" + ("" if name in counters.GAUGES else "_total"), value,
               f"SIP listener: {name.replace('_', ' ')}",
               "gauge" if name in counters.GAUGES else "counter")
        for name, value in dataclasses.asdict(counters).items()
    ]
