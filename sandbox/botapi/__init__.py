"""The Bot API stand-in: one server, split by what each part does (see server.py)."""

from sandbox.botapi.model import (
    DEFAULT_TOKEN,
    ApiError,
    Call,
    Chat,
    RateLimits,
    User,
    Violation,
    WebhookDelivery,
)
from sandbox.botapi.server import BotAPI

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotAPI",
    "Call",
    "Chat",
    "RateLimits",
    "User",
    "Violation",
    "WebhookDelivery",
]
