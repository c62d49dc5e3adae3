"""Clients: everybody who writes to the bot and is not an employee (the runtime includes this
router last). A message becomes a lead or joins the client's open deal; its owner gets the card
and a relayed copy he can answer with a Telegram reply. The client sees only the greeting, the
"share phone" button and his rep's replies: nothing internal.

With a client bot, both bots serve clients (one who wrote to the staff bot before the client bot
came is still answered there), so each bot's dispatcher gets a router of its own: make_router().
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, MagicData
from aiogram.types import (
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import gettext as _

from bot.cards import LEAD_QUOTE, MAX_CAPTION, MAX_TEXT, escaped_within
from bot.sender import Sender
from crm.chat import ChatContent, link_relay, stop
from crm.context import Crm
from crm.leads import Intake, alert_notices, intake
from crm.notices import Notice, NoticeKind, Notifier
from crm.staff import TelegramUser
from handlers.relay import reply_keyboard, transferable
from storage.models import Employee

log = logging.getLogger(__name__)


def content_of(message: Message) -> ChatContent:
    text = message.text or message.caption or ""
    if message.photo:
        return ChatContent(text, "photo", message.photo[-1].file_id)
    if message.document:
        return ChatContent(text, "document", message.document.file_id)
    if message.contact:
        return ChatContent(message.contact.phone_number, "contact")
    return ChatContent(text)


def _client(message: Message) -> TelegramUser:
    user = message.from_user
    assert user is not None  # the router sees private messages only from users
    return TelegramUser(user.id, user.full_name, user.username, user.language_code)


async def stop_messages(message: Message, crm: Crm) -> None:
    if message.from_user and await stop(crm, message.from_user.id):
        await message.answer(
            _("Done: we will not write to you any more. Write to us whenever you like."),
            reply_markup=ReplyKeyboardRemove(),
        )


async def client_help(message: Message) -> None:
    """A client's /help is answered, and is not a message for his rep."""
    await message.answer(_(
        "Write your question here and a manager will answer in this chat. You can share your "
        "phone number to be called back. /stop: we stop writing to you until you write again."
    ))


async def client_message(
    message: Message, crm: Crm, sender: Sender, notifier: Notifier, lang: str, bot: Bot,
    staff_sender: Sender | None = None, lead_team: str | None = None,
) -> None:
    shared = message.contact
    own_phone = shared.phone_number if shared and shared.user_id == message.chat.id else None
    found = await intake(
        crm, _client(message), content_of(message), client_message_id=message.message_id,
        shared_phone=own_phone, bot_id=bot.id, team=lead_team,
    )
    staff = staff_sender or sender
    # A new lead is one message to its rep: the card with his words, the alert and Reply. Only
    # a photo, a document or a very long text is copied besides, as a card cannot carry it.
    lead_card = bool(found.new_deal and found.deal.owner_id and found.task)  # type: ignore[attr-defined]
    if lead_card:
        await notifier.notify(Notice(
            found.deal.owner_id, NoticeKind.NEW_LEAD, found.task.id, found.deal.id,  # type: ignore[attr-defined, union-attr]
            {"text": found.message.text, "chat_message_id": found.message.id,
             "alerts": ", ".join(a.word for a in found.alerts) or None},
        ))
    if not lead_card or found.message.file_id or len(found.message.text) > LEAD_QUOTE:
        await _relay(found, message, bot, staff)
    for notice in await alert_notices(found, owner_told=lead_card):
        await notifier.notify(notice)
    if found.contact.stopped:
        return
    if found.resumed:
        back_on = _("Replies are back on: we will answer you here. /stop turns them off again.")
        await sender.send(message.chat.id, back_on)
    if found.new_contact:
        await _greet(crm, sender, message.chat.id, lang)
    elif own_phone:
        await sender.send(message.chat.id, _("Thank you! We saved your number."),
                          reply_markup=ReplyKeyboardRemove())


async def _greet(crm: Crm, sender: Sender, chat_id: int, lang: str) -> None:
    greeting = crm.playbook.automations.greeting
    if greeting is None:
        return
    share = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("Share phone"), request_contact=True)]],
        resize_keyboard=True, one_time_keyboard=True,
    )
    await sender.send(chat_id, html.escape(greeting.get(lang)), reply_markup=share)


async def _relay(found: Intake, message: Message, bot: Bot, staff: Sender) -> None:
    """Copy the client's message to the deal's owner and remember where the copy is."""
    owner_id = found.deal.owner_id  # type: ignore[attr-defined]
    owner = await Employee.get_or_none(id=owner_id, active=True) if owner_id else None
    if owner is None or owner.tg_id is None:
        return  # in the team queue: whoever claims it sees the timeline
    name = found.contact.name or _("Client")
    content = found.message
    body = f"💬 <b>{html.escape(name)}</b>"
    if content.text:  # his text gets what the header leaves (a client may send 4096 characters)
        limit = MAX_CAPTION if content.file_id else MAX_TEXT
        body += "\n" + escaped_within(content.text, limit - len(f"💬 {name}\n"))
    markup = reply_keyboard(found.deal.id)
    if content.media_kind in ("photo", "document") and content.file_id:
        filename = message.document.file_name if message.document else None
        media = await transferable(bot, staff.bot, content.file_id, content.media_kind, filename)
        copy = await staff.send_file(
            owner.tg_id, content.media_kind, media, caption=body, reply_markup=markup
        )
    else:
        copy = await staff.send(owner.tg_id, body, reply_markup=markup)
    if copy is not None:
        await link_relay(content.id, copy.chat.id, copy.message_id)


def make_router() -> Router:
    router = Router(name="client")
    router.message.filter(MagicData(F.employee.is_(None)))
    router.message.register(stop_messages, Command("stop"))
    router.message.register(client_help, Command("help"))
    router.message.register(client_message, F.text | F.photo | F.document | F.contact)
    return router


router = make_router()
