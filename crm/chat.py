"""The conversation between a client and his rep: every message in and out, on the record.

Each message is a ChatMessage row and an event on the deal's timeline, written together, so the
timeline shows the conversation in order. A relayed copy of a client's message in a rep's chat is
remembered (staff chat id + message id) so a Telegram reply to it finds its way to the client.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from crm.context import Crm
from crm.deals import open_deal_of
from crm.permissions import can_act_on
from storage.models import ChatMessage, Contact, Deal, Employee, EventKind, TimelineEvent


@dataclass(frozen=True)
class ChatContent:
    """What a message carries: text (or a caption) and at most one photo or document."""

    text: str = ""
    media_kind: str | None = None  # "photo", "document", "contact", "email"
    file_id: str | None = None


class ReplyRefusal(enum.StrEnum):
    NO_DEAL = "no_deal"
    FORBIDDEN = "forbidden"
    STOPPED = "stopped"
    BLOCKED = "blocked"
    NOT_IN_TELEGRAM = "not_in_telegram"
    OTHER_BOT = "other_bot"  # he wrote to a bot that does not run now


@dataclass(frozen=True)
class ClientBots:
    """The bots that run (Telegram ids): the staff bot, and the client bot if there is one."""

    staff: int
    client: int | None = None

    @property
    def advertised(self) -> int:
        """The bot clients are asked to write to."""
        return self.client or self.staff


@dataclass(frozen=True)
class ReplyTarget:
    """Where a rep's reply goes: the client's Telegram chat through the bot he last wrote to,
    and the deal it belongs to. For a contact from before bots were remembered, `fallback` is
    the bot to try when bot_id finds no chat with him (he wrote to the other one)."""

    contact_id: int
    deal_id: int | None
    chat_id: int
    bot_id: int
    fallback: int | None = None


async def record_incoming(
    crm: Crm, contact: Contact, deal: Deal | None, content: ChatContent,
    client_message_id: int | None,
) -> ChatMessage:
    return await _record(crm, contact.id, deal.id if deal else None, None, content,
                         client_message_id, incoming=True)


async def record_outgoing(
    crm: Crm, target: ReplyTarget, employee: Employee | None, content: ChatContent,
    client_message_id: int | None,
) -> ChatMessage:
    """A message the client received (client_message_id: its id in the client's chat)."""
    return await _record(crm, target.contact_id, target.deal_id, employee, content,
                         client_message_id, incoming=False)


async def record_sent_elsewhere(
    crm: Crm, contact_id: int, deal_id: int | None, employee: Employee, text: str, kind: str,
) -> ChatMessage:
    """A rep's reply that went out by another channel (kind: "email")."""
    return await _record(crm, contact_id, deal_id, employee, ChatContent(text, kind), None,
                         incoming=False)


async def _record(
    crm: Crm, contact_id: int, deal_id: int | None, employee: Employee | None,
    content: ChatContent, client_message_id: int | None, *, incoming: bool,
) -> ChatMessage:
    now = crm.now()
    employee_id = employee.id if employee else None
    async with in_transaction():
        message = await ChatMessage.create(
            contact_id=contact_id, deal_id=deal_id, incoming=incoming, employee_id=employee_id,
            client_message_id=client_message_id, text=content.text,
            media_kind=content.media_kind, file_id=content.file_id, at=now,
        )
        if deal_id is not None:
            await TimelineEvent.create(
                deal_id=deal_id, kind=EventKind.MSG_IN if incoming else EventKind.MSG_OUT,
                text=content.text, actor_id=employee_id, at=now,
                data={"chat_message_id": message.id, "media": content.media_kind},
            )
    return message


async def link_relay(chat_message_id: int, staff_chat_id: int, staff_message_id: int) -> None:
    """Remember the copy of a client's message shown in a staff chat."""
    await ChatMessage.filter(id=chat_message_id).update(
        staff_chat_id=staff_chat_id, staff_message_id=staff_message_id
    )


async def relayed_message(staff_chat_id: int, staff_message_id: int) -> ChatMessage | None:
    """The client's message behind a relayed copy a rep replied to, if it is one."""
    return await ChatMessage.get_or_none(
        staff_chat_id=staff_chat_id, staff_message_id=staff_message_id
    )


async def reply_target(
    employee: Employee, deal_id: int, bots: ClientBots
) -> ReplyTarget | ReplyRefusal:
    """Whether this employee may write to the client of this deal, and where to: only through
    the bot the client last wrote to (a bot cannot start a chat), and not after /stop or a block
    until he writes again."""
    deal = await Deal.get_or_none(id=deal_id).select_related("contact")
    if deal is None:
        return ReplyRefusal.NO_DEAL
    if not can_act_on(employee, deal.owner_id, deal.team):  # type: ignore[attr-defined]
        return ReplyRefusal.FORBIDDEN
    contact = deal.contact
    if contact.tg_user_id is None:
        return ReplyRefusal.NOT_IN_TELEGRAM
    if contact.stopped:
        return ReplyRefusal.STOPPED
    if contact.blocked:
        return ReplyRefusal.BLOCKED
    if contact.tg_bot_id is None:
        # From before bots were remembered: most likely he wrote to the bot clients are asked
        # to, but he may have written to the staff bot before the client bot came.
        fallback = bots.staff if bots.client else None
        return ReplyTarget(contact.id, deal.id, contact.tg_user_id, bots.advertised, fallback)
    if contact.tg_bot_id not in (bots.staff, bots.client):
        return ReplyRefusal.OTHER_BOT
    return ReplyTarget(contact.id, deal.id, contact.tg_user_id, contact.tg_bot_id)


async def reached_through(target: ReplyTarget, bot_id: int) -> None:
    """A reply reached the client through bot_id: remember it if it was not known."""
    if target.fallback is not None:
        await Contact.filter(id=target.contact_id, tg_bot_id=None).update(tg_bot_id=bot_id)


async def stop(crm: Crm, tg_user_id: int) -> bool:
    """The client asked (/stop): nothing is sent to him until he writes again. True the first
    time, so the confirmation goes out once; his open deal's timeline shows it."""
    contact = await Contact.get_or_none(tg_user_id=tg_user_id, stopped=False)
    if contact is None or not await Contact.filter(id=contact.id, stopped=False).update(
        stopped=True
    ):
        return False
    deal = await open_deal_of(contact.id)
    if deal is not None:
        await TimelineEvent.create(deal_id=deal.id, kind=EventKind.STOPPED, at=crm.now())
    return True


async def blocked(tg_user_id: int) -> None:
    """A 403 on writing to the client: he blocked the bot; nothing more until he writes again."""
    await Contact.filter(tg_user_id=tg_user_id).update(blocked=True)


async def heard_from(crm: Crm, contact: Contact, deal: Deal, bot_id: int | None) -> bool:
    """The client wrote (through bot_id): that bot is the one to answer him through, and a
    /stop or block is lifted. True when he had said /stop (he is told replies are back on, and
    the deal's timeline shows it)."""
    changes: dict[str, object] = {"stopped": False, "blocked": False}
    if bot_id is not None:
        changes["tg_bot_id"] = bot_id
    if all(getattr(contact, name) == value for name, value in changes.items()):
        return False  # the usual message: nothing to write
    resumed = contact.stopped
    await Contact.filter(id=contact.id).update(**changes)
    for name, value in changes.items():
        setattr(contact, name, value)
    if resumed:
        await TimelineEvent.create(deal_id=deal.id, kind=EventKind.RESUMED, at=crm.now())
    return resumed


async def may_message(tg_user_id: int) -> bool:
    """Every path that writes to a client asks this first; employees are never stopped."""
    return not await Contact.filter(tg_user_id=tg_user_id).filter(
        Q(stopped=True) | Q(blocked=True)
    ).exists()
