"""The outside world (Telegram) for end-to-end tests: the product's Bot API stand-in
(sandbox/botapi), under the name the tests know it by, and pytest fixtures (fixtures.py)."""

from sandbox.botapi import (
    DEFAULT_TOKEN,
    BotAPI,
    Call,
    Chat,
    RateLimits,
    User,
    Violation,
    WebhookDelivery,
)

FakeBotAPI = BotAPI

__all__ = [
    "DEFAULT_TOKEN",
    "Call",
    "Chat",
    "FakeBotAPI",
    "RateLimits",
    "User",
    "Violation",
    "WebhookDelivery",
]
