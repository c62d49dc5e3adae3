"""Fakes of the outside world (Telegram) for end-to-end tests."""

from tests.fakes.botapi import (
    DEFAULT_TOKEN,
    Call,
    Chat,
    FakeBotAPI,
    RateLimits,
    User,
    Violation,
    WebhookDelivery,
)

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
