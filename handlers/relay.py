"""Employees answering clients: a Telegram reply to a relayed client message, or the Reply button
on a card followed by the text, photo or document to send. The answer goes out from the bot the
client last wrote to (crm.chat.reply_target decides) and lands on the deal's timeline; when the
client last wrote a letter, it goes out by e-mail instead (crm.mail.letter_to_answer decides).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot.callbacks import Reply
from bot.cards import MAX_CAPTION, MAX_TEXT
from bot.keyboards import with_reply
from bot.long_text import split_text
from bot.sender import Sender
from crm.chat import (
    ChatContent,
    ClientBots,
    ReplyRefusal,
    ReplyTarget,
    reached_through,
    record_outgoing,
    relayed_message,
    reply_target,
)
from crm.context import Crm
from crm.mail import MailDeliveryError, MailPort, letter_to_answer
from crm.mail import reply as reply_by_mail
from handlers import employee_router
from storage.models import Employee, Letter

log = logging.getLogger(__name__)
router = employee_router("relay")


class Replying(StatesGroup):
    waiting = State()


def reply_keyboard(deal_id: int) -> InlineKeyboardMarkup:
    return with_reply(None, deal_id)


def refusal_text(refusal: ReplyRefusal) -> str:
    return {
        ReplyRefusal.NO_DEAL: _("This deal no longer exists."),
        ReplyRefusal.FORBIDDEN: _("This is not your client."),
        ReplyRefusal.STOPPED: _("The client asked not to be written to (/stop)."),
        ReplyRefusal.BLOCKED: _("Not delivered: the client has blocked the bot."),
        ReplyRefusal.NOT_IN_TELEGRAM: _("This client has not written to the bot."),
        ReplyRefusal.OTHER_BOT: _(
            "Not delivered: the client has not written to this bot. He can be answered once he "
            "writes to us again."
        ),
    }[refusal]


def client_bots(staff_sender: Sender, client_sender: Sender) -> ClientBots:
    """The bots that run, from the senders the runtime hands every handler."""
    staff, client = staff_sender.bot.id, client_sender.bot.id
    return ClientBots(staff, client if client != staff else None)


async def _replied_to_client(message: Message) -> dict[str, Any] | bool:
    """Filter: the message answers a relayed client message; hands over its deal id."""
    original = message.reply_to_message
    if original is None:
        return False
    relayed = await relayed_message(message.chat.id, original.message_id)
    if relayed is None or relayed.deal_id is None:  # type: ignore[attr-defined]
        return False
    return {"reply_deal_id": relayed.deal_id}  # type: ignore[attr-defined]


@router.message(_replied_to_client, F.text | F.photo | F.document)
async def telegram_reply(
    message: Message, reply_deal_id: int, employee: Employee, crm: Crm, bot: Bot,
    client_sender: Sender, staff_sender: Sender, mail_port: MailPort | None = None,
) -> None:
    await _answer(message, reply_deal_id, employee, crm, bot, (staff_sender, client_sender),
                  mail_port)


@router.callback_query(Reply.filter())
async def reply_pressed(
    callback: CallbackQuery, callback_data: Reply, employee: Employee, state: FSMContext,
    callback_answer: CallbackAnswer, client_sender: Sender, staff_sender: Sender,
) -> None:
    # The middleware answers the query once, after the handler: answering here too was refused.
    bots = client_bots(staff_sender, client_sender)
    letter = await letter_to_answer(employee, callback_data.deal_id)
    target = letter if letter is not None else await reply_target(
        employee, callback_data.deal_id, bots
    )
    if isinstance(target, ReplyRefusal):
        callback_answer.text = refusal_text(target)
        callback_answer.show_alert = True
        return
    await state.set_state(Replying.waiting)
    await state.update_data(deal_id=callback_data.deal_id)
    if callback.message is not None:
        await callback.message.answer(
            _("Send the reply to the client's letter: text, sent by e-mail. /cancel to stop.")
            if isinstance(target, Letter) else
            _("Send the reply for the client: text, a photo or a document. /cancel to stop.")
        )


@router.message(Replying.waiting, F.text | F.photo | F.document)
async def typed_reply(
    message: Message, state: FSMContext, employee: Employee, crm: Crm, bot: Bot,
    client_sender: Sender, staff_sender: Sender, mail_port: MailPort | None = None,
) -> None:
    if message.text and message.text.startswith("/"):
        await message.answer(_("That looks like a command. Send the reply, or /cancel."))
        return
    deal_id = int((await state.get_data())["deal_id"])
    await state.clear()
    await _answer(message, deal_id, employee, crm, bot, (staff_sender, client_sender), mail_port)


async def _answer(
    message: Message, deal_id: int, employee: Employee, crm: Crm, bot: Bot,
    senders: tuple[Sender, Sender], mail_port: MailPort | None = None,
) -> None:
    letter = await letter_to_answer(employee, deal_id)
    if isinstance(letter, ReplyRefusal):
        await message.answer(refusal_text(letter))
        return
    if letter is not None:
        await _answer_by_mail(message, letter, employee, crm, mail_port)
        return
    # Checked again at sending time: the client may have said /stop meanwhile.
    target = await reply_target(employee, deal_id, client_bots(*senders))
    if isinstance(target, ReplyRefusal):
        await message.answer(refusal_text(target))
        return
    content = ChatContent(
        message.text or message.caption or "",
        "photo" if message.photo else "document" if message.document else None,
        message.photo[-1].file_id if message.photo else
        message.document.file_id if message.document else None,
    )
    filename = message.document.file_name if message.document else None
    try:
        sent = await _deliver_somewhere(target, content, bot, senders, filename)
    except TelegramAPIError as exc:
        log.warning("reply on deal %s not delivered: %s", deal_id, exc)
        await message.answer(
            _("Not delivered: Telegram answered “{error}”. Try again later.").format(
                error=html.escape(exc.message)
            )
        )
        return
    if isinstance(sent, ReplyRefusal):
        await message.answer(refusal_text(sent))
        return
    if sent.failure is None:
        await record_outgoing(crm, target, employee, content, client_message_id=sent.first_id)
        await message.answer("✅ " + _("Sent to the client."))
        return
    # The timeline keeps what the client got: the text up to the end of the last part sent.
    got = ChatContent(_prefix(content.text, sent.parts[: sent.sent]), content.media_kind,
                      content.file_id)
    await record_outgoing(crm, target, employee, got, client_message_id=sent.first_id)
    log.warning("reply on deal %s sent in part: %s", deal_id, sent.failure)
    await message.answer(
        _("Sent only in part: {sent} of {total} messages reached the client.").format(
            sent=sent.sent, total=len(sent.parts)
        ) + "\n" + sent.failure
    )


async def _answer_by_mail(
    message: Message, letter: Letter, employee: Employee, crm: Crm, port: MailPort | None
) -> None:
    text = message.text or message.caption or ""
    if message.photo or message.document or not text.strip():
        await message.answer(_("A reply to a letter can only be text. Send it as text."))
        return
    if port is None:
        await message.answer(_("Not sent: e-mail replies are not set up (NEXTSTEP_SMTP)."))
        return
    try:
        await reply_by_mail(crm, employee, letter, text, port)
    except MailDeliveryError as exc:
        await message.answer(
            _("Not delivered by e-mail: the mail server answered “{error}”. Try again later.")
            .format(error=html.escape(str(exc)))
        )
        return
    await message.answer("✅ " + _("Sent to the client by e-mail."))


@dataclass(frozen=True)
class Delivery:
    """A reply sent as one message or several parts (a long text, a caption's rest)."""

    first_id: int  # the client's message id of the first part
    parts: list[str]  # the plain text of each part
    sent: int  # how many parts went out, in order
    failure: str | None = None  # why the next part did not, for the rep (HTML)


def _prefix(text: str, parts: list[str]) -> str:
    """The text up to the end of the given leading parts (each is a piece of it, in order)."""
    end = 0
    for part in parts:
        end = text.index(part, end) + len(part)
    return text[:end]


async def _deliver_somewhere(
    target: ReplyTarget, content: ChatContent, bot: Bot, senders: tuple[Sender, Sender],
    filename: str | None,
) -> Delivery | ReplyRefusal:
    """Through the target's bot, else its fallback: what went out, or why nothing did."""
    by_bot = {sender.bot.id: sender for sender in senders}
    for bot_id in (target.bot_id, target.fallback):
        if bot_id is None:
            continue
        try:
            sent = await _deliver(target, content, bot, by_bot[bot_id], filename)
        except TelegramBadRequest as exc:
            if "chat not found" not in exc.message:
                raise
            continue  # a bot cannot start a chat: this one never heard from him
        if sent is None:
            return ReplyRefusal.BLOCKED
        await reached_through(target, bot_id)
        return sent
    return ReplyRefusal.OTHER_BOT


async def _deliver(
    target: ReplyTarget, content: ChatContent, bot: Bot, through: Sender, filename: str | None,
) -> Delivery | None:
    """Send to the client, a long text in parts in order; None if he blocked the bot.

    The first part's failure raises, as a single message's would; a later one's is reported
    in the Delivery, as the client already has the beginning.
    """
    if content.media_kind and content.file_id:
        parts = split_text(content.text, MAX_TEXT, MAX_CAPTION)
        file = await transferable(bot, through.bot, content.file_id, content.media_kind, filename)
        first = await through.send_file(
            target.chat_id, content.media_kind, file, caption=html.escape(parts[0]) or None
        )
    else:
        parts = split_text(content.text, MAX_TEXT)
        first = await through.send(target.chat_id, html.escape(parts[0]))
    if first is None:
        return None
    for n, part in enumerate(parts[1:], start=1):
        try:
            result = await through.send(target.chat_id, html.escape(part))
        except TelegramAPIError as exc:
            why = _("Telegram answered “{error}”.").format(error=html.escape(exc.message))
            return Delivery(first.message_id, parts, n, why)
        if result is None:
            return Delivery(first.message_id, parts, n, refusal_text(ReplyRefusal.BLOCKED))
    return Delivery(first.message_id, parts, len(parts))


async def transferable(
    source: Bot, target: Bot, file_id: str, kind: str, filename: str | None = None
) -> str | BufferedInputFile:
    """A file id is valid only for the bot that received it: across bots, upload the bytes
    (under the sender's file name, so a document keeps its name and extension)."""
    if source.id == target.id:
        return file_id
    data = await source.download(file_id)
    assert data is not None
    default = "photo.jpg" if kind == "photo" else "file"
    return BufferedInputFile(data.read(), filename=filename or default)
