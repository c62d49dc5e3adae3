"""A fake Telegram Bot API server for end-to-end tests.

The bot reaches it over real HTTP (``TelegramAPIServer.from_base(api.base_url)``). Every request
is validated against the schema; a violation is kept in ``violations`` and answered with a 400 the
way Telegram answers. What the bot did is kept in ``sent`` for the test to assert on.

One server can serve several bots (``api.add_bot(token)`` gives another bot's view, with its own
identity, updates, chats, message ids and log). Like Telegram, a file_id is valid only for the bot
that saw the file: another bot must download it (``getFile``, then ``/file/bot<token>/<path>``) and
upload the bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeAlias

import aiohttp
from aiohttp import web

from tests.fakes.markup import visible_text
from tests.fakes.spec import Method, Upload, check_request, decode_form, load_spec

DEFAULT_TOKEN = "123456789:AAFakeTokenForNextstepEndToEndTests"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# Update kinds Telegram leaves out unless allowed_updates names them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Message keys that carry content, copied by copyMessage and forwardMessage.
_CONTENT_KEYS = frozenset(
    "text entities caption caption_entities photo document audio video animation voice "
    "video_note sticker contact location venue dice".split()
)
# Fields aiogram's models require on media objects besides file_id and file_unique_id.
_MEDIA_EXTRAS: dict[str, dict[str, Any]] = {
    "audio": {"duration": 1},
    "voice": {"duration": 1},
    "video": {"width": 640, "height": 480, "duration": 1},
    "animation": {"width": 640, "height": 480, "duration": 1},
    "video_note": {"length": 240, "duration": 1},
    "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                "is_video": False},
}
_ERROR_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

_FILE_DIR = "files"  # the directory of getFile's file_path
ChatKey: TypeAlias = int | str
Json: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = "ru"
    last_name: str | None = None

    def to_api(self) -> Json:
        data: Json = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data

    def private_chat(self) -> Chat:
        return Chat(self.id, "private", first_name=self.first_name, username=self.username)


@dataclass(frozen=True)
class Chat:
    id: int
    type: str = "private"
    title: str | None = None
    username: str | None = None
    first_name: str | None = None

    def to_api(self) -> Json:
        data: Json = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class Call:
    """One request the fake answered; ``time`` is ``time.perf_counter()`` at arrival."""

    method: str
    params: Json
    time: float
    chat_id: ChatKey | None
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    retry_after: int | None = None
    via_webhook: bool = False

    @property
    def ok(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True)
class Violation:
    method: str
    reason: str

    def __str__(self) -> str:
        return f"{self.method}: {self.reason}"


@dataclass(frozen=True)
class RateLimits:
    """Telegram's flood limits as commonly observed (it publishes no exact numbers)."""

    per_chat_per_second: int = 1
    per_bot_per_second: int = 30
    per_group_per_minute: int = 20


@dataclass(frozen=True)
class WebhookDelivery:
    update: Json
    status: int
    sent_at: float  # perf_counter() just before the POST
    replied_at: float  # perf_counter() once the whole reply was read
    reply: Call | None  # the method the bot answered with in the HTTP reply, if any

    @property
    def elapsed(self) -> float:
        return self.replied_at - self.sent_at


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _chat_of(value: Any) -> ChatKey | None:
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value if isinstance(value, int | str) else None


def _without_reply(message: Json) -> Json:
    # Telegram never nests reply_to_message more than one level deep.
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def _entities_key(field_name: str) -> str:
    return "entities" if field_name == "text" else f"{field_name}_entities"


async def _read_parts(reader: aiohttp.MultipartReader) -> tuple[dict[str, str], dict[str, Upload]]:
    form: dict[str, str] = {}
    uploads: dict[str, Upload] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            form[part.name] = await part.text()
        else:
            uploads[part.name] = Upload(part.name, part.filename, bytes(await part.read()))
    return form, uploads


class FakeBotAPI:
    """``async with FakeBotAPI() as api:`` serves the Bot API on ``api.base_url``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        rate_limits: RateLimits | None = None,
        bot_username: str = "nextstep_test_bot",
    ) -> None:
        self.token = token
        self.spec = load_spec()
        self.rate_limits = rate_limits
        self.me: Json = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "NextStep Test",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.base_url = ""
        self.sent: list[Call] = []
        self.violations: list[Violation] = []
        self.served_429: Counter[str] = Counter()
        self.webhook: Json | None = None
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self._log_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._client: aiohttp.ClientSession | None = None
        self._closing = False
        self._updates: list[Json] = []
        self._allowed_updates: frozenset[str] = frozenset()
        self._updates_arrived = asyncio.Event()
        self._poller = 0
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._files: dict[str, bytes] = {}  # file_id -> content, for this bot only
        # Every bot this server answers for, by token; views made by add_bot share the server.
        self._bots: dict[str, FakeBotAPI] = {token: self}
        self._message_ids: dict[ChatKey, itertools.count[int]] = {}
        self._history: dict[ChatKey, dict[int, Json]] = {}
        # Raw (text, parse_mode, entities) per message, for the "message is not modified" check.
        self._sources: dict[tuple[ChatKey, int], tuple[Any, ...]] = {}
        self._chats: dict[ChatKey, Json] = {}
        self._open_callbacks: set[str] = set()
        self._faults: dict[str, deque[ApiError]] = {}
        self._blocked: set[ChatKey] = set()
        # Like Telegram, a bot cannot start a private chat: with this on, writing to a user who
        # never wrote to this bot is "chat not found". Off by default (tests write to made-up ids).
        self.strict_chats = False
        self._sends: deque[float] = deque()
        self._chat_sends: dict[ChatKey, deque[float]] = {}
        self._handlers: dict[str, Callable[[Json], Any]] = {
            "getMe": lambda _: self.me,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": partial(self._edit, "text"),
            "editMessageCaption": partial(self._edit, "caption"),
            "editMessageReplyMarkup": partial(self._edit, None),
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback,
            "setMyCommands": self._set_commands,
            "getMyCommands": lambda params: self.commands.get(self._commands_key(params), []),
            "deleteMyCommands": self._delete_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=50 * 1024 * 1024)  # Telegram's upload limit
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._client = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for bot in self._bots.values():
            bot._closing = True
            bot._wake_pollers()  # a held getUpdates would otherwise delay shutdown
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def go_away(self) -> None:
        """Telegram becomes unreachable: the port refuses connections, open ones are cut."""
        assert self._runner is not None and self._site is not None, "enter the server first"
        port = self._runner.addresses[0][1]
        await self._site.stop()
        self._site = web.TCPSite(self._runner, "127.0.0.1", port)  # for come_back()
        server = self._runner.server
        assert server is not None
        await server.shutdown(0.1)  # cancels held getUpdates: their updates stay queued

    async def come_back(self) -> None:
        """Telegram answers again, on the same port."""
        assert self._site is not None, "enter the server first"
        await self._site.start()

    def add_bot(self, token: str, *, bot_username: str = "nextstep_client_bot") -> FakeBotAPI:
        """Serve another bot token on this server; returns that bot's view (the same API)."""
        assert self._client is not None, "enter the server first"
        if token in self._bots:
            raise ValueError("this token is served already")
        bot = FakeBotAPI(token, rate_limits=self.rate_limits, bot_username=bot_username)
        bot.base_url, bot._client = self.base_url, self._client
        bot.violations = self.violations  # one list: a check of this server sees every bot's
        self._bots[token] = bot
        return bot

    @property
    def bots(self) -> list[FakeBotAPI]:
        """Every bot this server serves, this one first."""
        return list(self._bots.values())

    def bot(self, token: str) -> FakeBotAPI:
        """The view of a bot this server serves."""
        return self._bots[token]

    # -- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        n: int = 1,
        error_code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``n`` calls of ``method`` with an error (after validation)."""
        name = self._method(method).name
        if error_code == 429:
            error = ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        else:
            error = ApiError(error_code, description or _ERROR_DESCRIPTIONS[error_code])
        self._faults.setdefault(name, deque()).extend([error] * n)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: calls aimed at his chat get 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def take_violations(self) -> list[Violation]:
        """Return and forget the violations, for tests that provoke them on purpose."""
        taken = list(self.violations)
        self.violations.clear()  # in place: the bots of one server share the list
        return taken

    # -- what the bot did --------------------------------------------------------------------

    def calls(self, method: str | None = None, *, include_failed: bool = False) -> list[Call]:
        """Calls of ``method`` (any when None) in arrival order of their answers."""
        return [
            call
            for call in self.sent
            if (method is None or call.method.lower() == method.lower())
            and (call.ok or include_failed)
        ]

    def messages_to(self, chat_id: int) -> list[Json]:
        """The bot's messages in a chat as they stand now (edits applied, deletions gone)."""
        history = self._history.get(chat_id, {})
        return [message for message in history.values() if message["from"]["id"] == self.me["id"]]

    @property
    def unanswered_callbacks(self) -> frozenset[str]:
        """Callback query ids the bot never answered (the user's button keeps spinning)."""
        return frozenset(self._open_callbacks)

    def find_message(self, chat_id: ChatKey, message_id: int) -> Json | None:
        return self._history.get(chat_id, {}).get(message_id)

    # The timeout parameter is this helper's interface (tests read better with it).
    async def wait_for(
        self,
        what: str | Callable[[Call], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        since: int = 0,
    ) -> Call:
        """First call in ``sent[since:]`` that is a successful ``what`` or satisfies it."""
        predicate: Callable[[Call], bool]
        if isinstance(what, str):
            name = what.lower()
            predicate = lambda call: call.ok and call.method.lower() == name  # noqa: E731
        else:
            predicate = what

        def found() -> Call | None:
            return next((call for call in self.sent[since:] if predicate(call)), None)

        await self._wait(lambda: found() is not None, timeout, f"a call matching {what!r}")
        call = found()
        assert call is not None
        return call

    async def wait_count(
        self, method: str, n: int, *, timeout: float = 5.0  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until ``method`` succeeded at least ``n`` times; return those calls."""
        await self._wait(lambda: len(self.calls(method)) >= n, timeout, f"{n} x {method}")
        return self.calls(method)

    async def _wait(self, ready: Callable[[], bool], seconds: float, what: str) -> None:
        async with self._log_changed:
            try:
                async with asyncio.timeout(seconds):
                    await self._log_changed.wait_for(ready)
            except TimeoutError:
                seen = ", ".join(f"{c.method}({c.error_code or 'ok'})" for c in self.sent[-10:])
                raise AssertionError(f"no {what} within {seconds}s; last calls: {seen}") from None

    async def _record(self, call: Call) -> Call:
        self.sent.append(call)
        async with self._log_changed:
            self._log_changed.notify_all()
        return call

    # -- updates -----------------------------------------------------------------------------

    def push_update(self, update: Json) -> Json:
        """Queue an update for getUpdates; gives it the next update_id if it has none."""
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._wake_pollers()
        return update

    def message(
        self,
        from_user: User,
        text: str | None = None,
        *,
        chat: Chat | None = None,
        reply_to: int | None = None,
        contact: str | Mapping[str, Any] | None = None,
        photo: bool = False,
        entities: list[Json] | None = None,
        document: str | None = None,
        file_data: bytes | None = None,
    ) -> Json:
        """An update with a message from a user; ``contact`` as a phone shares his own card.

        ``photo`` or ``document`` (its file name) attach a file holding ``file_data``; the text
        becomes its caption.
        """
        chat_data = (chat or from_user.private_chat()).to_api()
        self._chats[chat_data["id"]] = chat_data
        message = self._new_message(chat_data, from_user.to_api())
        text_key = "caption" if photo or document else "text"
        if photo:
            message["photo"] = self._file("photo", None, file_data)
        if document is not None:
            message["document"] = self._file("document", None, file_data) | {
                "file_name": document
            }
        if text is not None:
            message[text_key] = text
        if entities:
            message[_entities_key(text_key)] = entities
        if isinstance(contact, str):
            message["contact"] = {
                "phone_number": contact,
                "first_name": from_user.first_name,
                "user_id": from_user.id,
            }
        elif contact is not None:
            message["contact"] = dict(contact)
        if reply_to is not None:
            target = self.find_message(chat_data["id"], reply_to)
            if target is None:
                raise LookupError(f"no message {reply_to} in chat {chat_data['id']}")
            message["reply_to_message"] = _without_reply(target)
        self._store(message, (text, None, entities))
        return {"update_id": next(self._update_ids), "message": message}

    def command(self, from_user: User, name: str, args: str = "", **kwargs: Any) -> Json:
        """``/name args`` with the bot_command entity a client adds."""
        text = f"/{name} {args}" if args else f"/{name}"
        entity = {"type": "bot_command", "offset": 0, "length": len(name) + 1}
        return self.message(from_user, text, entities=[entity], **kwargs)

    def callback(
        self,
        from_user: User,
        data: str,
        message: int | Mapping[str, Any],
        *,
        strict: bool = True,
    ) -> Json:
        """A button press on a message the bot sent (current state, edits applied).

        ``message`` is a message_id in the user's private chat or a Message dict. With ``strict``
        the data must be on one of its buttons; pass ``strict=False`` to forge a press.
        """
        if isinstance(message, int):
            chat_id, message_id = from_user.id, message
        else:
            chat_id, message_id = message["chat"]["id"], message["message_id"]
        current = self.find_message(chat_id, message_id)
        if current is None:
            raise LookupError(f"no message {message_id} in chat {chat_id}")
        if strict and data not in {b.get("callback_data") for b in self._buttons(current)}:
            raise LookupError(f"message {message_id} has no button with data {data!r}")
        query_id = f"{self.me['id']}{next(self._callback_ids):06d}"
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": from_user.to_api(),
            "message": current,
            "chat_instance": f"-{abs(chat_id) if isinstance(chat_id, int) else chat_id}",
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def press(self, from_user: User, message: int | Mapping[str, Any], button_text: str) -> Json:
        """A press of the inline button labelled ``button_text``."""
        chat_id = from_user.id if isinstance(message, int) else message["chat"]["id"]
        message_id = message if isinstance(message, int) else message["message_id"]
        current = self.find_message(chat_id, message_id) or {}
        for button in self._buttons(current):
            if button["text"] == button_text and "callback_data" in button:
                return self.callback(from_user, button["callback_data"], current)
        raise LookupError(f"message {message_id} has no callback button {button_text!r}")

    @staticmethod
    def _buttons(message: Json) -> list[Json]:
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    async def post_update(
        self,
        webhook_url: str,
        update: Json,
        secret_token: str | None = None,
        *,
        http_timeout: float = 10.0,
    ) -> WebhookDelivery:
        """POST an update to the bot's webhook like Telegram does; serve a method in the reply.

        ``secret_token`` defaults to the one the bot registered with setWebhook.
        """
        assert self._client is not None, "use FakeBotAPI as an async context manager"
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        token = secret_token or (self.webhook or {}).get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        sent_at = time.perf_counter()
        async with self._client.post(
            webhook_url,
            json=update,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=http_timeout),
        ) as response:
            form: dict[str, str] = {}
            uploads: dict[str, Upload] = {}
            typed: Json | None = None
            if response.content_type == "multipart/form-data":
                form, uploads = await _read_parts(
                    aiohttp.MultipartReader(response.headers, response.content)
                )
            elif response.content_type == "application/json":
                typed = await response.json()
            else:
                await response.read()
            replied_at = time.perf_counter()
            status = response.status
        method = form.pop("method", None) or (typed or {}).pop("method", None)
        reply = None
        if 200 <= status < 300 and method:
            reply = await self._serve(method, form, uploads, typed, via_webhook=True)
        return WebhookDelivery(update, status, sent_at, replied_at, reply)

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        bot = self._bots.get(request.match_info["token"])
        if bot is None:
            self.violations.append(Violation(name, "request with a wrong bot token"))
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        form: dict[str, str] = dict(request.query)
        uploads: dict[str, Upload] = {}
        typed: Json | None = None
        if request.content_type == "multipart/form-data":
            parts, uploads = await _read_parts(await request.multipart())
            form.update(parts)
        elif request.content_type == "application/json":
            typed = {**form, **await request.json()}
        else:
            form.update((key, str(value)) for key, value in (await request.post()).items())
        call = await bot._serve(name, form, uploads, typed)
        if call.ok:
            return web.json_response({"ok": True, "result": call.result})
        body: Json = {"ok": False, "error_code": call.error_code, "description": call.description}
        if call.retry_after is not None:
            body["parameters"] = {"retry_after": call.retry_after}
        return web.json_response(body, status=call.error_code or 500)

    async def _serve(
        self,
        name: str,
        form: dict[str, str],
        uploads: dict[str, Upload],
        typed: Json | None,
        *,
        via_webhook: bool = False,
    ) -> Call:
        arrived = time.perf_counter()
        method = self.spec.method(name)
        if method is None:
            self.violations.append(Violation(name, "unknown method"))
            return await self._record(
                Call(name, {**form, **(typed or {})}, arrived, None, None, 404, "Not Found",
                     via_webhook=via_webhook)
            )
        if typed is None:
            params, problems = decode_form(method, form, uploads)
        else:
            params, problems = typed, check_request(method, typed, {})
        chat_id = _chat_of(params.get("chat_id"))
        if problems:
            self.violations.extend(Violation(method.name, problem) for problem in problems)
            return await self._record(
                Call(method.name, params, arrived, chat_id, None, 400,
                     f"Bad Request: {problems[0]}", via_webhook=via_webhook)
            )
        try:
            self._check_faults(method, chat_id)
            result = await self._execute(method, params)
        except ApiError as error:
            if error.code == 429:
                self.served_429[method.name] += 1
            return await self._record(
                Call(method.name, params, arrived, chat_id, None, error.code, error.description,
                     error.retry_after, via_webhook)
            )
        return await self._record(
            Call(method.name, params, arrived, chat_id, result, via_webhook=via_webhook)
        )

    def _method(self, name: str) -> Method:
        method = self.spec.method(name)
        if method is None:
            raise ValueError(f"no Bot API method {name!r}")
        return method

    def _check_faults(self, method: Method, chat_id: ChatKey | None) -> None:
        if queued := self._faults.get(method.name):
            raise queued.popleft()
        if chat_id is not None and self._key(chat_id) in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        sends_message = method.returns[0] in ("Message", "MessageId", "Array of Message")
        if self.strict_chats and sends_message and isinstance(chat_id, int) and chat_id > 0 and (
            chat_id not in self._chats
        ):
            raise ApiError(400, "Bad Request: chat not found")
        if self.rate_limits and chat_id is not None and sends_message:
            self._throttle(self.rate_limits, self._key(chat_id))

    def _throttle(self, limits: RateLimits, chat: ChatKey) -> None:
        now = time.perf_counter()

        def recent(times: deque[float], window: float) -> int:
            while times and times[0] <= now - window:
                times.popleft()
            return len(times)

        group = isinstance(chat, int) and chat < 0
        window, limit = (60.0, limits.per_group_per_minute) if group else (
            1.0, limits.per_chat_per_second)
        chat_times = self._chat_sends.setdefault(chat, deque())
        if recent(self._sends, 1.0) >= limits.per_bot_per_second:
            raise ApiError(429, "Too Many Requests: retry after 1", 1)
        if recent(chat_times, window) >= limit:
            retry_after = max(1, math.ceil(chat_times[0] + window - now))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        self._sends.append(now)
        chat_times.append(now)

    async def _execute(self, method: Method, params: Json) -> Any:
        if method.name == "getUpdates":
            return await self._get_updates(params)
        handler = self._handlers.get(method.name)
        if handler is not None:
            return handler(params)
        if method.returns[0] == "Message" and method.name.startswith("send"):
            return self._send(method, params)
        return True

    # -- getUpdates --------------------------------------------------------------------------

    def _wake_pollers(self) -> None:
        self._updates_arrived.set()
        self._updates_arrived = asyncio.Event()

    def _deliverable(self) -> list[Json]:
        def wanted(update: Json) -> bool:
            kind = next((key for key in update if key != "update_id"), "")
            if self._allowed_updates:
                return kind in self._allowed_updates
            return kind not in _OPT_IN_UPDATES

        return [update for update in self._updates if wanted(update)]

    async def _get_updates(self, params: Json) -> list[Json]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self._allowed_updates = frozenset(params["allowed_updates"])
        offset = params.get("offset")
        if offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        elif offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poller += 1
        poller = self._poller
        self._wake_pollers()  # an older getUpdates still held is answered with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + params.get("timeout", 0)
        while not (ready := self._deliverable()) and not self._closing and poller == self._poller:
            try:
                await asyncio.wait_for(self._updates_arrived.wait(), deadline - loop.time())
            except TimeoutError:
                break
        if poller != self._poller:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return ready[: params.get("limit", 100)]

    # -- messages ----------------------------------------------------------------------------

    def _key(self, chat_id: ChatKey) -> ChatKey:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for key, chat in self._chats.items():
                if chat.get("username") == chat_id[1:]:
                    return key
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _chat(self, chat_id: ChatKey) -> Json:
        key = self._key(chat_id)
        if key in self._chats:
            return self._chats[key]
        if isinstance(key, int) and key > 0:
            return {"id": key, "type": "private", "first_name": f"User {key}"}
        kind = "supergroup" if str(key).startswith("-100") else "group"
        return {"id": key, "type": kind, "title": f"Chat {key}"}

    def _new_message(self, chat: Json, sender: Json) -> Json:
        counter = self._message_ids.setdefault(chat["id"], itertools.count(1))
        return {"message_id": next(counter), "date": int(time.time()), "chat": chat, "from": sender}

    def _store(self, message: Json, source: tuple[Any, ...]) -> Json:
        key = (message["chat"]["id"], message["message_id"])
        self._history.setdefault(key[0], {})[key[1]] = message
        self._sources[key] = source
        return message

    def _file(self, kind: str, value: Upload | str | None, content: bytes | None = None) -> Any:
        """The media object of a file sent as ``value`` (or a user's own file when None)."""
        if isinstance(value, str) and not value.startswith(("attach://", "http://", "https://")):
            file_id = value  # resending by file_id keeps the id...
            if file_id not in self._files:  # ...of a file this bot has seen
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        else:
            # Ids carry the bot's id so one bot's file_id never works for another by accident.
            file_id = f"fake-file-{self.me['id']}-{next(self._file_ids)}"
            if isinstance(value, Upload):
                content = value.data
            self._files[file_id] = content if content is not None else f"{kind} {file_id}".encode()
        data: Json = {"file_id": file_id, "file_unique_id": f"u-{file_id}"}
        if isinstance(value, Upload):
            data["file_size"] = len(value.data)
        if kind == "photo":
            return [{**data, "width": 800, "height": 600}]
        if kind == "document" and isinstance(value, Upload):
            data["file_name"] = value.filename
        return {**data, **_MEDIA_EXTRAS.get(kind, {})}

    def _shown(self, params: Json, field_name: str) -> Json:
        """The text or caption as Telegram returns it: markup parsed away."""
        entities_key = _entities_key(field_name)
        if field_name not in params:
            return {}
        if entities_key in params:
            return {field_name: params[field_name], entities_key: params[entities_key]}
        return {field_name: visible_text(params[field_name], params.get("parse_mode"))}

    @staticmethod
    def _source(params: Json, field_name: str) -> tuple[Any, ...]:
        return (
            params.get(field_name),
            params.get("parse_mode"),
            params.get(_entities_key(field_name)),
        )

    def _reply(self, chat: ChatKey, params: Json) -> Json:
        reply = params.get("reply_parameters")
        if reply is None:
            return {}
        target_chat = self._key(_chat_of(reply.get("chat_id")) or chat)
        target = self.find_message(target_chat, reply["message_id"])
        if target is not None:
            return {"reply_to_message": _without_reply(target)}
        if reply.get("allow_sending_without_reply"):
            return {}
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _send(self, method: Method, params: Json) -> Json:
        chat = self._chat(params["chat_id"])
        reply = self._reply(chat["id"], params)
        message = self._new_message(chat, self.me)
        message |= self._shown(params, "text") | self._shown(params, "caption") | reply
        for name, spec_field in method.fields.items():
            if name in params and name != "thumbnail" and "InputFile" in spec_field.types:
                message[name] = self._file(name, params[name])
        if method.name == "sendContact":
            message["contact"] = {
                key: params[key] for key in ("phone_number", "first_name", "last_name")
                if key in params
            }
        if method.name == "sendLocation":
            message["location"] = {k: params[k] for k in ("latitude", "longitude")}
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:  # only inline keyboards come back
            message["reply_markup"] = markup
        text_field = "text" if "text" in params else "caption"
        return self._store(message, self._source(params, text_field))

    def _send_media_group(self, params: Json) -> list[Json]:
        chat = self._chat(params["chat_id"])
        reply = self._reply(chat["id"], params)
        group_id = str(next(self._file_ids))
        sent = []
        for item in params["media"]:
            message = self._new_message(chat, self.me) | reply
            message |= self._shown(item, "caption") | {"media_group_id": group_id}
            message[item["type"]] = self._file(item["type"], item["media"])
            sent.append(self._store(message, self._source(item, "caption")))
        return sent

    def _copy(self, params: Json, missing: str) -> tuple[Json, Json]:
        source = self.find_message(self._key(params["from_chat_id"]), params["message_id"])
        if source is None:
            raise ApiError(400, f"Bad Request: message to {missing} not found")
        chat = self._chat(params["chat_id"])
        reply = self._reply(chat["id"], params)
        message = self._new_message(chat, self.me) | reply
        message |= {key: value for key, value in source.items() if key in _CONTENT_KEYS}
        return source, message

    def _copy_message(self, params: Json) -> Json:
        _, message = self._copy(params, "copy")
        message |= self._shown(params, "caption")
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        field_name = "text" if "text" in message else "caption"
        entities = message.get(_entities_key(field_name))
        self._store(message, (message.get(field_name), None, entities))
        return {"message_id": message["message_id"]}

    def _forward_message(self, params: Json) -> Json:
        source, message = self._copy(params, "forward")
        message["forward_origin"] = {
            "type": "user", "sender_user": source["from"], "date": source["date"]
        }
        field_name = "text" if "text" in message else "caption"
        return self._store(message, (message.get(field_name), None, None))

    def _edit(self, field_name: str | None, params: Json) -> Json | bool:
        if "inline_message_id" in params:
            return True
        chat = self._key(params["chat_id"])
        message = self.find_message(chat, params["message_id"])
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.me["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        old_source = self._sources[(chat, message["message_id"])]
        source = old_source
        edited = {key: value for key, value in message.items() if key != "reply_markup"}
        if field_name is not None:
            if (field_name == "text") != ("text" in message):
                raise ApiError(400, f"Bad Request: there is no {field_name} in the message to edit")
            edited.pop(field_name, None)
            edited.pop(_entities_key(field_name), None)
            edited |= self._shown(params, field_name)
            source = self._source(params, field_name)
        if "reply_markup" in params:
            edited["reply_markup"] = params["reply_markup"]
        if source == old_source and edited.get("reply_markup") == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        edited["edit_date"] = int(time.time())
        return self._store(edited, source)

    def _delete_message(self, params: Json) -> bool:
        history = self._history.get(self._key(params["chat_id"]), {})
        if history.pop(params["message_id"], None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _answer_callback(self, params: Json) -> bool:
        query_id = params["callback_query_id"]
        if query_id not in self._open_callbacks:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_callbacks.discard(query_id)
        return True

    # -- settings ----------------------------------------------------------------------------

    @staticmethod
    def _commands_key(params: Json) -> tuple[str, str]:
        scope = params.get("scope", {"type": "default"})
        return json.dumps(scope, sort_keys=True), params.get("language_code", "")

    def _set_commands(self, params: Json) -> bool:
        self.commands[self._commands_key(params)] = params["commands"]
        return True

    def _delete_commands(self, params: Json) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _set_webhook(self, params: Json) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {key: value for key, value in params.items() if key != "certificate"}
        return True

    def _delete_webhook(self, params: Json) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    def _webhook_info(self, _: Json) -> Json:
        webhook = self.webhook or {}
        info: Json = {
            "url": webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if "allowed_updates" in webhook:
            info["allowed_updates"] = webhook["allowed_updates"]
        return info

    def _get_chat(self, params: Json) -> Json:
        no_gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
             "gifts_from_channels"),
            False,
        )
        return self._chat(params["chat_id"]) | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": no_gifts,
        }

    def _get_file(self, params: Json) -> Json:
        file_id = params["file_id"]
        if file_id not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id, "file_unique_id": f"u-{file_id}",
            "file_size": len(self._files[file_id]), "file_path": f"{_FILE_DIR}/{file_id}",
        }

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a file this bot has seen (sent by it or to it)."""
        return self._files[file_id]

    async def _download(self, request: web.Request) -> web.Response:
        """``GET /file/bot<token>/<file_path>``, the download URL getFile's path leads to."""
        bot = self._bots.get(request.match_info["token"])
        path = request.match_info["path"]
        content = bot._files.get(path.removeprefix(f"{_FILE_DIR}/")) if bot else None
        if bot is None or not path.startswith(f"{_FILE_DIR}/") or content is None:
            self.violations.append(Violation("file download", f"no file at {path!r}"))
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=content, content_type="application/octet-stream")
