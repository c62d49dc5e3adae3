"""The scope check in front of every button: who pressed, which deal the button names, and the
crm rule that decides (crm.permissions.deal_access). It runs before any handler, so a handler
never renders a card, a timeline or a client's name for a deal its viewer may not see, however
the callback data was forged; and a class added to bot/callbacks.py is covered by declaring
its deal field and least role there.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.callbacks import least_role, references, unpack
from bot.middlewares import CallbackReply, Handler
from crm.permissions import Access, Refusal, deal_access

log = logging.getLogger(__name__)


def refusal_text(access: Access) -> str:
    """What the presser is told: true, and nothing about the deal itself."""
    if access.refusal == Refusal.MOVED and access.owner_name:
        return _("This deal is now handled by {name}.").format(name=access.owner_name)
    return {
        Refusal.NOT_STAFF: _("This button is for the team's employees."),
        Refusal.ROLE: _("Your role does not allow this."),
        Refusal.GONE: _("This deal no longer exists."),
        Refusal.NOT_YOURS: _("Not your deal"),
        Refusal.MOVED: _("This deal was given to another rep."),
    }[access.refusal or Refusal.NOT_YOURS]


class ScopeMiddleware(BaseMiddleware):
    """Outer middleware on `callback_query`, inside CallbackDeadlineMiddleware (it answers)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        button = unpack(event.data)
        if button is None:  # not ours or unreadable: the handlers' own fallbacks answer
            return await handler(event, data)
        task_id, deal_id = references(button)
        viewer = data.get("employee")
        access = await deal_access(
            viewer, task_id=task_id, deal_id=deal_id, needs=least_role(button)
        )
        if access.allowed:
            data["scoped_deal"] = access.deal  # handlers that need the deal take it from here
            return await handler(event, data)
        log.warning(
            "refused button: employee=%s user=%s callback=%s deal=%s why=%s",
            viewer.id if viewer else None, event.from_user.id, event.data,
            access.deal_id or deal_id, access.refusal,
        )
        reply: CallbackReply | None = data.get("callback_answer")
        if reply is not None:
            reply.text = refusal_text(access)
        return None
