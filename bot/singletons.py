"""What one worker at a time runs (bot/leader.py picks it): registering the webhook, the
employees' command menus at start, the SIP capture listener."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.leader import LEADER as LEADER_LEASE
from bot.leader import Closable
from storage import leases

if TYPE_CHECKING:
    from bot.app import App


log = logging.getLogger(__name__)


async def register_webhook(app: App) -> None:
    """setWebhook only when Telegram's webhook or the secret differs from what this App serves:
    not by every worker at every start (Telegram rate-limits setWebhook)."""
    settings, bot = app.settings, app.bot
    if not settings.webhook_url:
        return
    allowed = sorted(app.dispatcher.resolve_used_update_types())
    fingerprint = hashlib.sha256(
        "\n".join((settings.webhook_url, ",".join(allowed), app.webhook_secret)).encode()
    ).hexdigest()[:32]
    info = await bot.get_webhook_info()
    holder = app.leadership.holder
    if (
        info.url == settings.webhook_url
        and sorted(info.allowed_updates or []) == allowed
        and await leases.note(LEADER_LEASE) == fingerprint
    ):
        return
    # Never dropping what is pending: updates wait for us meanwhile.
    await bot.set_webhook(settings.webhook_url, secret_token=app.webhook_secret,
                          allowed_updates=allowed)
    await leases.set_note(LEADER_LEASE, holder, fingerprint)
    log.info("webhook registered: %s", settings.webhook_url)


async def start_sip(app: App) -> Closable | None:
    if not app.settings.sip_listen:
        return None
    from telephony.bridge import start_capture

    app.listener = await start_capture(app.settings, app.crm, app.notifier)
    return app.listener


async def start_menus(app: App) -> None:
    """Every employee's command menu, in the background: once by the leader, not by each worker
    (Telegram rate-limits a bot's requests)."""
    app.spawn(app.set_menus())


# What one worker at a time runs, started in this order when it becomes the leader (first at
# its start if it is alone) and closed in reverse when it stops being it.
SINGLETONS: tuple[tuple[str, Callable[[App], Awaitable[Closable | None]]], ...] = (
    ("webhook", register_webhook),
    ("menus", start_menus),
    ("sip", start_sip),
)
