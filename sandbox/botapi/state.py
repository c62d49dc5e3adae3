"""The state one bot's view of the stand-in keeps (chats, messages, files, the log) and the
few primitives every part of it uses."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from sandbox.botapi.model import (
    DEFAULT_TOKEN,
    MEDIA_EXTRAS,
    ApiError,
    Call,
    ChatKey,
    Json,
    RateLimits,
    Violation,
)
from sandbox.botapi.spec import Method, Upload, load_spec

if TYPE_CHECKING:
    from sandbox.botapi.server import BotAPI


class BotState:
    """One bot's view of the server; the parts (journal, users, messages, delivery) add methods."""

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
        self.menu_buttons: dict[ChatKey | None, Json] = {}  # None: the default for every chat
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
        self._bots: dict[str, BotAPI] = {token: self}  # type: ignore[dict-item]
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
        # With a webhook set, POST updates to it as Telegram does. Off by default: the tests
        # drive a webhook by hand with post_update() to time and inspect each delivery.
        self.deliver_webhooks = False
        self._pusher: asyncio.Task[None] | None = None
        # Called with every call answered (the web chat shows what the bot did as it happens).
        self.observers: list[Callable[[Call], None]] = []

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
            file_id = f"file-{self.me['id']}-{next(self._file_ids)}"
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
        return {**data, **MEDIA_EXTRAS.get(kind, {})}

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

    async def _record(self, call: Call) -> Call:
        self.sent.append(call)
        for observer in self.observers:
            observer(call)
        async with self._log_changed:
            self._log_changed.notify_all()
        return call

    def _method(self, name: str) -> Method:
        method = self.spec.method(name)
        if method is None:
            raise ValueError(f"no Bot API method {name!r}")
        return method

    def _wake_pollers(self) -> None:
        self._updates_arrived.set()
        self._updates_arrived = asyncio.Event()

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a file this bot has seen (sent by it or to it)."""
        return self._files[file_id]

    def history(self, chat_id: ChatKey) -> list[Json]:
        """Every message in a chat as it stands now (both sides, edits applied, in order)."""
        return sorted(self._history.get(chat_id, {}).values(), key=lambda m: m["message_id"])

    def source(self, chat_id: ChatKey, message_id: int) -> tuple[Any, ...]:
        """(text, parse_mode, entities) as the sender gave them, before markup was parsed."""
        return self._sources.get((chat_id, message_id), (None, None, None))
