"""The running bot: one `App` from (settings, clock), started and stopped in-process.

`nextstep run` starts it until a signal; the end-to-end tests start the same object against a
fake Bot API. Parts, in start order: store → Crm → Bot (429 retry on every call) → Sender →
BotNotifier → dispatcher(s) → clock → web server (health, metrics, webhook, WEB_MODULES) →
leadership (SINGLETONS: registering the webhook, the SIP listener) → polling → the clock's
ticks. `stop()` undoes them in the order that loses nothing: stop intake (polling, webhook,
singletons), let in-flight handlers, clock jobs and call events finish, drain the sender, then
close the sessions and the store.

Several workers (`nextstep run` processes on one PostgreSQL and Redis, behind a load balancer)
each run all of it but the singletons, which one of them runs at a time (bot/leader.py); the
clock's jobs run on every worker and claim their work item by item in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import importlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from aiogram import Dispatcher, Router
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.redis import DefaultKeyBuilder, RedisEventIsolation, RedisStorage
from aiogram.utils.i18n import I18n
from aiohttp import web
from redis.asyncio import Redis

from board.api import add_board
from bot import board_link
from bot.assembly import (
    BotSide,
    build_bot_side,
    build_dispatcher,
    load_routers,
    release_routers,
    sip_samples,
)
from bot.health import (
    STORE,
    TELEGRAM,
    Outages,
    TelegramWatch,
    probe_store,
    probe_telegram,
    quiet_retries,
)
from bot.i18n import create_i18n
from bot.leader import Leadership, Singleton
from bot.middlewares import (
    ContextMiddleware,
    DedupMiddleware,
    InFlight,
    SeenUpdates,
    UpdateCounters,
)
from bot.notifier import BotNotifier
from bot.scheduler import Clockwork
from bot.sender import Rates
from bot.singletons import SINGLETONS
from bot.web import MetricsRegistry, Sample, add_webhook, bound_port, build_web_app, start_web
from config.playbook import load_playbook
from config.settings import Settings, split_host_port
from crm.chat import blocked
from crm.clock import Clock, SystemClock
from crm.context import Crm
from crm.pipeline import load_pipeline, refresh_pipeline
from crm.staff import mark_unreachable
from handlers.common import set_client_menu, set_employee_menu
from storage.db import keep_created_databases, store
from storage.models import Employee

if TYPE_CHECKING:
    from mail.service import MailService
    from telephony.listener import SipListener

log = logging.getLogger(__name__)

# Routers of the staff bot, in the order they see an update; the client router comes last as
# the catch-all for everybody who is not an employee (a client bot gets a client router of its
# own, make_router()). Modules are imported at start so a missing one fails loudly there.
STAFF_ROUTERS = (
    "handlers.common", "handlers.relay", "handlers.admin", "handlers.admin_fields",
    "handlers.supervisor",
    "handlers.lookup", "handlers.feed", "handlers.fields", "handlers.when", "handlers.rep",
)
CLIENT_ROUTERS = ("handlers.client",)
# Modules with periodic work: each has `setup_jobs(clockwork, crm, notifier, i18n, lang)` that calls
# `clockwork.add_job(func, seconds, name=...)`. Every worker runs them: a job must claim what it
# does in the store (as due pushes, reminders, digests and escalations do), or be a singleton.
JOB_MODULES: tuple[str, ...] = ("handlers.supervisor",)
# Modules serving pages or an API on the web server: each has `add_routes(web_app, app)`,
# called before the server listens (every worker serves them, behind the load balancer).
WEB_MODULES: tuple[str, ...] = ()
# How stale another worker's pipeline edit may look here: each process reloads it this often.
PIPELINE_REFRESH_SECONDS = 5.0
# How long one user's update holds his lock across workers (aiogram's default: 60 s): a worker
# killed while handling leaves it held, and that user's next updates wait this long.
ISOLATION_SECONDS = 10
# While Telegram or the store is down, how often the clock asks whether it is back.
PROBE_SECONDS = 2.0


class App:
    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        *,
        manage_store: bool = True,
        rates: Rates | None = None,
        callback_deadline: float = 2.0,
        polling_timeout: int = 10,
        run_clock: bool = True,
    ) -> None:
        """Tests pass `manage_store=False` when they opened the store themselves and
        `run_clock=False` to drive the clock with `app.clockwork.tick()` alone."""
        if not settings.bot_token:
            raise ValueError("settings.bot_token is empty")
        self.settings = settings
        self.clock = clock or SystemClock()
        self.manage_store = manage_store
        self.rates = rates or Rates()
        self.callback_deadline = callback_deadline
        self.polling_timeout = polling_timeout
        self.run_clock = run_clock
        self.i18n: I18n = create_i18n(settings.locale)
        self.updates = UpdateCounters()
        self.inflight = InFlight()
        self.metrics = MetricsRegistry()
        self.outages = Outages()
        # Unset, the secret comes from the token, so every worker of a bot has the same one and
        # a restart keeps it (no setWebhook again).
        self.webhook_secret = settings.webhook_secret or hashlib.sha256(
            f"nextstep webhook {settings.bot_token}".encode()
        ).hexdigest()
        self.web_port = 0
        self._stack = contextlib.AsyncExitStack()
        self._redis: Redis | None = None
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.listener: SipListener | None = None
        self.staff: BotSide | None = None
        self.client: BotSide | None = None
        self.clockwork: Clockwork | None = None
        self.leadership = Leadership(
            [Singleton(name, functools.partial(start, self)) for name, start in SINGLETONS]
        )
        self.mail: MailService | None = None

    # -- start -------------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.settings
        quiet_retries()
        board_link.configure(settings.web_app_url)  # the Board buttons on cards, /help, menu
        staff = self.staff = build_bot_side(
            settings, settings.bot_token, self.rates, self._staff_forbidden
        )
        self.bot, self.sender = staff.bot, staff.sender
        if settings.client_bot_token:
            self.client = build_bot_side(settings, settings.client_bot_token, self.rates)
        # Telegram first: a refused token or an unreachable Bot API ends the start before the
        # store is opened (and a new SQLite file made).
        for side in self._sides():
            await side.bot.get_me()
            # From here on a network error is an outage to ride out, not a failed start.
            side.bot.session.middleware(TelegramWatch(self.outages))
        if self.manage_store:
            await self._stack.enter_async_context(store(settings.database_url))
        self.crm = Crm(load_playbook(settings.playbook), self.clock)
        await load_pipeline(self.crm)
        if settings.redis_url:
            self._redis = Redis.from_url(settings.redis_url)

        self.notifier = BotNotifier(self.bot, self.sender, self.crm, self.i18n)
        if settings.imap:  # the e-mail channel (mail/): watchers start with the clock, below
            from mail.service import MailService

            self.mail = MailService(settings, self.crm, self.notifier)
            self.metrics.add(self.mail.samples)
            self.outages.reports["mailboxes"] = self.mail.links
        # With a client bot, clients are asked to write to it; the staff bot still serves those
        # who write to it (as they did before the client bot came).
        self.dispatcher = self._dispatcher(
            self.staff, load_routers((*STAFF_ROUTERS, *CLIENT_ROUTERS))
        )
        if self.client is not None:
            client_routers = [importlib.import_module(m).make_router() for m in CLIENT_ROUTERS]
            self._dispatcher(self.client, client_routers)

        clockwork = self.clockwork = Clockwork(self.crm, self.notifier, outages=self.outages)
        clockwork.add_job(
            functools.partial(refresh_pipeline, self.crm), PIPELINE_REFRESH_SECONDS,
            name="pipeline",
        )
        for side in self._sides():
            clockwork.add_job(
                functools.partial(probe_telegram, side.bot, self.outages), PROBE_SECONDS,
                name=f"probe bot {side.bot.id}",
            )
        clockwork.add_job(functools.partial(probe_store, self.outages), PROBE_SECONDS,
                          name="probe store")
        for name in JOB_MODULES:
            importlib.import_module(name).setup_jobs(
                clockwork, self.crm, self.notifier, self.i18n, settings.locale
            )
        self._register_metrics(clockwork)

        web_app = build_web_app(self.metrics, self.outages, self._redis)
        add_board(web_app, self.crm, self.notifier, settings.bot_token,
                  max_age=settings.board_max_age, default_lang=settings.locale)
        if settings.webhook_url:
            add_webhook(
                web_app, self.dispatcher, self.bot, path=urlparse(settings.webhook_url).path or "/",
                secret=self.webhook_secret,
            )
        for name in WEB_MODULES:
            importlib.import_module(name).add_routes(web_app, self)
        host, port = split_host_port(settings.web_listen)
        self._runner = await start_web(web_app, host, port)
        self.web_port = bound_port(self._runner)

        # Leadership before intake: a singleton failing on its port (the SIP listener) ends the
        # start in one line before polling has begun and logged anything.
        await self.leadership.start()
        # Long polling is for one process (Telegram answers a second getUpdates with 409).
        if not settings.webhook_url:
            staff.polling = await self._poll(staff)
        if self.client is not None:
            self.client.polling = await self._poll(self.client)
        # The clock starts after intake so a push's follow-up presses find the bot listening
        # (and a start failing on a port never cuts a tick short); its first tick runs at once
        # and sends what fell due while we were down.
        if self.run_clock:
            clockwork.start()
        if self.mail is not None:
            self.mail.start()
        # What start built (modules, models, routers, the playbook) lives as long as the app:
        # out of the collector's sight, a full collection scans only what handling allocated
        # (a 170 ms pause of every update at 280k objects, 4 ms frozen).
        gc.freeze()
        keep_created_databases()  # started: from here on the store is the team's data
        log.info(
            "nextstep running: %s, web on %s:%s",
            "webhook" if settings.webhook_url else "long polling", host, self.web_port,
        )

    async def _staff_forbidden(self, chat_id: int) -> None:
        """A 403 on the staff bot: an employee is unreachable (his overseers are told once); a
        client, who may write to the staff bot too, has blocked it (crm.chat.blocked)."""
        await blocked(chat_id)
        for notice in await mark_unreachable(chat_id):
            await self.notifier.notify(notice)

    def _dispatcher(self, side: BotSide, routers: list[Router]) -> Dispatcher:
        storage: BaseStorage | None = None
        isolation: BaseEventIsolation | None = None
        if self._redis is not None:
            # One Redis serves both bots and several processes: keys carry the bot id.
            keys = DefaultKeyBuilder(with_bot_id=True)
            storage = RedisStorage(self._redis, key_builder=keys)
            isolation = RedisEventIsolation(
                self._redis, key_builder=keys, lock_kwargs={"timeout": ISOLATION_SECONDS}
            )
        context = ContextMiddleware(
            crm=self.crm, sender=side.sender, notifier=self.notifier, i18n=self.i18n,
            default_lang=self.settings.locale, counters=self.updates,
        )
        seen = SeenUpdates(redis=self._redis, bot_id=side.bot.id)
        side.dispatcher = build_dispatcher(
            routers,
            update_middlewares=[self.inflight, DedupMiddleware(seen, self.updates), context],
            storage=storage, events_isolation=isolation, callback_deadline=self.callback_deadline,
            webhook=side is self.staff and bool(self.settings.webhook_url),
        )
        side.dispatcher["mail_port"] = self.mail.port if self.mail else None
        # Handlers that write to clients use the bot clients talk to.
        side.dispatcher["client_sender"] = (self.client or side).sender
        # ...and those that write to employees (a client's relayed message) use the staff bot.
        side.dispatcher["staff_sender"] = self.bot_side.sender
        # Client leads go to the playbook's team, or to the client bot's own.
        team = self.settings.client_bot_team if side is self.client else ""
        side.dispatcher["lead_team"] = team or self.crm.playbook.leads.team
        return side.dispatcher

    async def _poll(self, side: BotSide) -> asyncio.Task[None]:
        # A webhook left from an earlier webhook-mode run would make getUpdates fail (409).
        await side.bot.delete_webhook(drop_pending_updates=False)
        return asyncio.create_task(
            side.dispatcher.start_polling(
                side.bot, handle_signals=False, close_bot_session=False,
                polling_timeout=self.polling_timeout,
            ),
            name=f"polling bot {side.bot.id}",
        )

    async def set_menus(self) -> None:
        await set_client_menu((self.client or self.bot_side).bot, self.i18n, self.settings.locale)
        async for employee in Employee.filter(active=True, tg_id__not_isnull=True):
            await set_employee_menu(
                self.bot, self.i18n, employee, employee.lang or self.settings.locale
            )

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def bot_side(self) -> BotSide:
        if self.staff is None:
            raise RuntimeError("the app has not started")
        return self.staff

    def _sides(self) -> list[BotSide]:
        return [side for side in (self.staff, self.client) if side is not None]

    def _register_metrics(self, clockwork: Clockwork) -> None:
        def runtime() -> list[Sample]:
            samples = [
                Sample("updates_handled_total", self.updates.handled, "updates handled"),
                Sample("updates_failed_total", self.updates.failed, "updates whose handler raised"),
                Sample("updates_duplicate_total", self.updates.duplicates,
                       "redelivered updates skipped"),
                Sample("pushes_sent_total", clockwork.counters.pushed, "due cards pushed"),
                Sample("pushes_retried_total", clockwork.counters.released,
                       "due pushes released for a retry"),
                Sample("pushes_recovered_total", clockwork.counters.recovered,
                       "due pushes put back after their worker died sending them"),
                Sample("scheduler_ticks_total", clockwork.counters.ticks, "clock ticks"),
                Sample("leader", 1 if self.leadership.leading else 0,
                       "1 while this worker runs the singletons", "gauge"),
                Sample("leader_takeovers_total", self.leadership.takeovers,
                       "times this worker became the leader"),
                Sample("store_up", 0 if self.outages.is_down(STORE) else 1,
                       "1 while the store answers, 0 during an outage", "gauge"),
                Sample("telegram_up", 0 if self.outages.is_down(TELEGRAM) else 1,
                       "1 while the Bot API answers, 0 during an outage", "gauge"),
            ]
            for side in self._sides():
                prefix = "client_" if side is self.client else ""
                samples += [
                    Sample(f"{prefix}messages_sent_total", side.sender.counters.sent,
                           "messages the sender delivered"),
                    Sample(f"{prefix}messages_forbidden_total", side.sender.counters.forbidden,
                           "messages refused with 403 (recipient blocked the bot)"),
                    Sample(f"{prefix}messages_failed_total", side.sender.counters.failed,
                           "messages that failed otherwise"),
                    Sample(f"{prefix}telegram_429_total", side.retry.counters.retry_after,
                           "429 answers waited out"),
                    Sample(f"{prefix}sender_queue_length", side.sender.queued,
                           "messages waiting in the sender", "gauge"),
                ]
            return samples

        self.metrics.add(runtime)
        self.metrics.add(lambda: sip_samples(self.listener))

    # -- stop --------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop intake, finish what is in flight, drain, close; also after a failed start."""
        for side in self._sides():
            if side.polling is not None:
                try:
                    await side.dispatcher.stop_polling()
                except RuntimeError:
                    # Not started: the task has not run its first step (which takes the
                    # dispatcher's lock without yielding), so cancelling it loses nothing.
                    side.polling.cancel()
                await asyncio.gather(side.polling, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()  # waits for webhook requests being handled
        await self.leadership.stop()
        if self.mail is not None:
            await self.mail.stop()
        if self.clockwork is not None:
            await self.clockwork.stop()
        await self.inflight.wait_idle()
        await asyncio.gather(*self._background, return_exceptions=True)
        for side in self._sides():
            await side.sender.drain()
        for side in self._sides():
            await side.bot.session.close()
            release_routers(side.dispatcher)
        if self._redis is not None:
            await self._redis.aclose()
        await self._stack.aclose()
        gc.unfreeze()  # what this app built may now go (tests start many apps in one process)
