"""What the Bot API stand-in deals in: users, chats, the log of calls, errors, and small helpers
shared by its parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import aiohttp

from sandbox.botapi.spec import Upload

DEFAULT_TOKEN = "123456789:AAFakeTokenForNextstepEndToEndTests"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# Update kinds Telegram leaves out unless allowed_updates names them.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Message keys that carry content, copied by copyMessage and forwardMessage.
CONTENT_KEYS = frozenset(
    "text entities caption caption_entities photo document audio video animation voice "
    "video_note sticker contact location venue dice".split()
)
# Fields aiogram's models require on media objects besides file_id and file_unique_id.
MEDIA_EXTRAS: dict[str, dict[str, Any]] = {
    "audio": {"duration": 1},
    "voice": {"duration": 1},
    "video": {"width": 640, "height": 480, "duration": 1},
    "animation": {"width": 640, "height": 480, "duration": 1},
    "video_note": {"length": 240, "duration": 1},
    "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                "is_video": False},
}
ERROR_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# sendChatAction's actions; Telegram refuses any other.
CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)
FILE_DIR = "files"  # the directory of getFile's file_path
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
    """One request the stand-in answered; ``time`` is ``time.perf_counter()`` at arrival."""

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


def chat_of(value: Any) -> ChatKey | None:
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value if isinstance(value, int | str) else None


def without_reply(message: Json) -> Json:
    # Telegram never nests reply_to_message more than one level deep.
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def entities_key(field_name: str) -> str:
    return "entities" if field_name == "text" else f"{field_name}_entities"


async def read_parts(reader: aiohttp.MultipartReader) -> tuple[dict[str, str], dict[str, Upload]]:
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

