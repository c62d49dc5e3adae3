"""End-to-end harness: the real App in-process, talking HTTP to a FakeBotAPI, on a FakeClock.

Fixtures (tests/e2e/conftest.py; each runs on SQLite and PostgreSQL through `db_url`):
    harness           long polling, the fake without rate limits
    webhook_harness   webhook mode: the fake POSTs updates to the App's own web server
    make_harness      `async with make_harness(rate_limits=..., rates=..., **settings)` for
                      variants; the fixture `clock` (tests/conftest.py) is the app's clock;
                      `client_bot_token=CLIENT_TOKEN` runs a separate client bot (long polling)
                      that the same fake serves as `h.client_api`

Helpers on `Harness` (h):
    h.user("Ivan", lang="ru") -> User            a new Telegram user (not yet anything)
    await h.make_employee("rep", name=..., sip_ext=..., team=..., lang=...) -> Staff
        joins through a real invite over the fake (/start <code>); Staff.user, Staff.employee
    await h.say(user, "/next") -> Exchange         a message (commands get their entity);
        returns once the App has fully handled it, with every Bot API call made meanwhile
    await h.press(user, callback_data, message) -> Exchange     a press of a button that is
        on `message` (a message_id in the user's chat, or the message dict)
    await h.press_text(user, message, "Button label") -> Exchange
    h.push(update)                                  queue an update, do not wait (polling)
    via=h.client_api on say/press/press_text/deliver/push: the update goes to the client bot
        (made by that bot's view, so its message ids and buttons are the client bot's)
    await h.tick()                                  the clock's jobs once (due pushes first)
    h.clock.advance(timedelta(...))                 time moves only when the test says so
    await h.restart()                               stop the App (gracefully) and start anew
    h.api                                           the FakeBotAPI: messages_to, wait_for,
        wait_count, calls, block, fail_next, rate_limits ... (sandbox/botapi/)
    h.app                                           the App: crm, notifier, sender, metrics...
Exchange: .calls (all; with a client bot, both bots' merged by arrival), .messages (sent or
edited messages, as dicts), .last, .text (of the last), .to(chat_id), .answer (the
answerCallbackQuery call of a press), .buttons (of .last).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bot.app import App
from bot.sender import Rates
from config.settings import Settings
from crm.clock import FakeClock
from crm.staff import create_invite
from storage.models import Employee, Role
from tests.fakes import Call, FakeBotAPI, RateLimits, User

Json = dict[str, Any]
MESSAGE_METHODS = frozenset({
    "sendmessage", "sendphoto", "senddocument", "editmessagetext", "editmessagecaption",
    "editmessagereplymarkup", "sendmediagroup", "copymessage", "forwardmessage",
})
WAIT = 10.0  # seconds any single exchange may take before the test fails
CLIENT_TOKEN = "987654321:AAFakeClientBotTokenForNextstepTests"
# Telegram user ids handed out by Harness.user; employees and clients alike.
_user_ids = itertools.count(10_001)


@dataclass(frozen=True)
class Staff:
    user: User
    employee: Employee


@dataclass(frozen=True)
class Exchange:
    calls: list[Call]

    @property
    def messages(self) -> list[Json]:
        return [
            c.result for c in self.calls
            if c.ok and c.method.lower() in MESSAGE_METHODS and isinstance(c.result, dict)
        ]

    def to(self, chat_id: int) -> list[Json]:
        return [m for m in self.messages if m["chat"]["id"] == chat_id]

    @property
    def last(self) -> Json:
        if not self.messages:
            seen = ", ".join(f"{c.method}({c.error_code or 'ok'})" for c in self.calls)
            raise AssertionError(f"the bot said nothing; calls: {seen or 'none'}")
        return self.messages[-1]

    @property
    def text(self) -> str:
        return str(self.last.get("text") or self.last.get("caption") or "")

    @property
    def buttons(self) -> list[Json]:
        rows = self.last.get("reply_markup", {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    @property
    def answer(self) -> Call | None:
        return next((c for c in self.calls if c.method.lower() == "answercallbackquery"), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def e2e_settings(api: FakeBotAPI, db_url: str, **overrides: Any) -> Settings:
    """Everything explicit, so NEXTSTEP_* variables of the shell cannot leak into a test."""
    values: dict[str, Any] = {
        "bot_token": api.token, "client_bot_token": "", "database_url": db_url,
        "telegram_api": api.base_url, "webhook_url": "", "webhook_secret": "",
        "web_listen": f"127.0.0.1:{free_port()}", "sip_listen": "", "redis_url": "",
        "playbook": None,
        "timezone": "Europe/Moscow", "locale": "ru", "bot_username": api.me["username"],
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Harness:
    def __init__(
        self, api: FakeBotAPI, clock: FakeClock, settings: Settings, rates: Rates | None = None
    ) -> None:
        self.api = api
        self.clock = clock
        self.settings = settings
        self.rates = rates or Rates()
        self.app: App | None = None
        self._pushed = 0  # updates handed to the polling App(s)
        self._processed_before = 0  # updates the App(s) stopped earlier went through

    @property
    def webhook(self) -> bool:
        return bool(self.settings.webhook_url)

    @property
    def client_api(self) -> FakeBotAPI:
        """The fake's view of the client bot (make_harness(client_bot_token=...))."""
        assert self.settings.client_bot_token, "this harness has no client bot"
        return self.api.bot(self.settings.client_bot_token)

    async def start(self) -> App:
        self.app = App(
            self.settings, self.clock, manage_store=False, rates=self.rates, run_clock=False,
            polling_timeout=5,
        )
        await self.app.start()
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self._processed_before += self.app.inflight.processed
            self.app = None

    async def restart(self) -> App:
        await self.stop()
        return await self.start()

    @property
    def running(self) -> App:
        assert self.app is not None, "the app is stopped"
        return self.app

    # -- people --------------------------------------------------------------------------------

    def user(self, name: str = "Client", *, lang: str | None = "ru") -> User:
        return User(next(_user_ids), name, language_code=lang)

    async def make_employee(
        self, role: str = "rep", *, name: str = "Rep", sip_ext: str | None = None,
        team: str = "main", lang: str | None = "ru",
    ) -> Staff:
        invite = await create_invite(self.running.crm, Role(role), team, sip_ext)
        user = self.user(name, lang=lang)
        reply = await self.say(user, f"/start {invite.code}")
        employee = await Employee.get_or_none(tg_id=user.id)
        assert employee is not None, f"joining failed: {reply.calls}"
        return Staff(user, employee)

    # -- talking -------------------------------------------------------------------------------

    async def say(
        self, user: User, text: str, *, via: FakeBotAPI | None = None, **kwargs: Any
    ) -> Exchange:
        api = via or self.api
        if text.startswith("/"):
            name, _, args = text[1:].partition(" ")
            update = api.command(user, name, args, **kwargs)
        else:
            update = api.message(user, text, **kwargs)
        return await self.deliver(update, via=via)

    async def press(
        self, user: User, callback_data: str, message: int | Json, *, via: FakeBotAPI | None = None
    ) -> Exchange:
        return await self.deliver((via or self.api).callback(user, callback_data, message), via=via)

    async def press_text(
        self, user: User, message: int | Json, label: str, *, via: FakeBotAPI | None = None
    ) -> Exchange:
        return await self.deliver((via or self.api).press(user, message, label), via=via)

    def push(self, update: Json, *, via: FakeBotAPI | None = None) -> None:
        """Queue an update for polling without waiting (later `say`s wait for it too)."""
        assert not self.webhook, "in webhook mode use deliver()"
        (via or self.api).push_update(update)
        self._pushed += 1

    async def deliver(self, update: Json, *, via: FakeBotAPI | None = None) -> Exchange:
        """Hand an update to the App the way Telegram would; return when it is handled."""
        since = {id(bot): len(bot.sent) for bot in self.api.bots}
        app = self.running
        if self.webhook:
            assert via in (None, self.api), "the harness runs a client bot in polling mode only"
            delivery = await self.api.post_update(self.settings.webhook_url, update)
            assert delivery.status == 200, f"webhook answered {delivery.status}"
        else:
            self.push(update, via=via)
            async with _timeout(WAIT, f"update {update['update_id']} not handled"):
                await app.inflight.wait_processed(self._pushed - self._processed_before)
        per_bot = [bot.sent[since.get(id(bot), 0):] for bot in self.api.bots]
        if len(per_bot) == 1:
            return Exchange(per_bot[0])
        return Exchange(sorted((c for calls in per_bot for c in calls), key=lambda c: c.time))

    async def tick(self) -> Exchange:
        since = len(self.api.sent)
        clockwork = self.running.clockwork
        assert clockwork is not None
        await clockwork.tick()
        return Exchange(self.api.sent[since:])


@contextlib.asynccontextmanager
async def _timeout(seconds: float, what: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise AssertionError(f"{what} within {seconds}s") from None


@contextlib.asynccontextmanager
async def running_harness(
    db_url: str, clock: FakeClock, *, rate_limits: RateLimits | None = None,
    rates: Rates | None = None, webhook: bool = False, **settings: Any,
) -> AsyncIterator[Harness]:
    async with FakeBotAPI(rate_limits=rate_limits) as api:
        if settings.get("client_bot_token"):
            api.add_bot(settings["client_bot_token"])
        if webhook:
            port = free_port()
            settings.setdefault("web_listen", f"127.0.0.1:{port}")
            settings.setdefault("webhook_url", f"http://127.0.0.1:{port}/telegram/webhook")
        harness = Harness(api, clock, e2e_settings(api, db_url, **settings), rates)
        await harness.start()
        try:
            yield harness
        finally:
            await harness.stop()
