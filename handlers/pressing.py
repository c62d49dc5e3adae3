"""A press on a card and what follows it, for every handler of the rep's workspace: the engine's
outcome rendered (the closed card, the refusal, the fresh card after a stale press), the next card
of the feed, a press finished by what the rep typed. No router: handlers/rep.py, when.py and
feed.py call these.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot import keyboards
from bot.access import refusal_text
from bot.cards import (
    card_header,
    closed_card,
    format_when,
    load_card,
    load_deal_card,
    outcome_summary,
    task_kind_name,
    viewer_zone,
)
from bot.editing import edit_text
from bot.middlewares import CallbackReply
from crm import feed
from crm.context import Crm
from crm.engine import Outcome, Press, Status, apply_outcome
from crm.permissions import deal_access
from handlers.fields_ask import ask_required
from storage.models import Employee

log = logging.getLogger(__name__)


async def replace(
    card_message: Message | None, chat: Message, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """The card's message edited, or a new message in the chat when it is not known."""
    if card_message is not None:
        await edit_text(card_message, text, markup)
    else:
        await chat.answer(text, reply_markup=markup)


@dataclass(frozen=True)
class Reply:
    text: str
    markup: InlineKeyboardMarkup | None = None
    card_task: int | None = None  # the task whose card this is


async def next_reply(
    crm: Crm, employee: Employee, lang: str, *, conveyor: bool = False
) -> Reply:
    """The most urgent task's card, or when the next one falls due. The conveyor skips cards
    the rep already has in his chat (sent since they fell due); /next gives the most urgent."""
    task = await feed.next_task(crm, employee, unshown=conveyor)
    if task is not None:
        card = await load_card(crm, task.id, lang, employee)
        if card is not None:
            return Reply(card.text, card.markup, task.id)
    if conveyor and (waiting := await feed.waiting_shown(employee, crm)):
        return Reply(
            _("Nothing new. Due cards you already have: {n}; /next shows the most urgent.").format(
                n=waiting
            ),
            keyboards.next_keyboard(),
        )
    upcoming = await feed.next_upcoming(employee)
    if upcoming is None:
        return Reply(_("Nothing to do: no tasks and no new leads. Well done!"))
    zone = viewer_zone(crm.playbook, employee)
    return Reply(
        _("Nothing due now. Next: {task} at {when}.").format(
            task=html.escape(task_kind_name(crm.playbook, upcoming.kind, lang)),
            when=format_when(upcoming.due_at, crm.now(), zone),
        ),
        keyboards.next_keyboard(),
    )


async def send_reply(crm: Crm, chat: Message, reply: Reply) -> None:
    """Send a feed reply; a card sent this way is not pushed again when it falls due."""
    await chat.answer(reply.text, reply_markup=reply.markup)
    if reply.card_task is not None:
        await feed.card_shown(crm, reply.card_task)


async def show_next(target: Message, crm: Crm, employee: Employee, lang: str) -> None:
    await send_reply(crm, target, await next_reply(crm, employee, lang))


async def after_done(
    crm: Crm,
    card_message: Message | None,
    chat: Message,
    employee: Employee,
    lang: str,
    task_id: int,
    button: str,
    outcome: Outcome,
    reason: str | None = None,
) -> None:
    """Close the card in place with what happened; in conveyor mode hand out the next card."""
    zone = viewer_zone(crm.playbook, employee)
    summary = outcome_summary(crm.playbook, lang, button, outcome, crm.now(), zone, reason)
    # The card as the rep saw it is in the pressed message; after a typed step only the
    # message id is known, and the card is read again.
    shown = card_message.html_text if card_message is not None and card_message.text else None
    header = card_header(shown) if shown else None
    if header is None:
        old = await load_card(crm, task_id, lang, employee)
        header = card_header(old.text) if old else None
    closing: asyncio.Task[None] | None = None
    if header is not None:
        text, markup = closed_card(header, summary, employee.conveyor)
        closing = asyncio.create_task(replace(card_message, chat, text, markup))
    # The next card is read while the closed one is on its way, and sent after it.
    try:
        reply = (
            await next_reply(crm, employee, lang, conveyor=True) if employee.conveyor else None
        )
    finally:
        if closing is not None:
            await closing
    if reply is not None:
        await send_reply(crm, chat, reply)


async def show_fresh(
    crm: Crm, card_message: Message | None, employee: Employee, lang: str, deal_id: int | None
) -> None:
    """After a stale press: the deal's current card in place of the stale one."""
    if deal_id is None or card_message is None:
        return
    card = await load_deal_card(crm, deal_id, lang, employee)
    if card is not None:
        await edit_text(card_message, card.text, card.markup)


async def apply_press(
    crm: Crm,
    press: Press,
    callback_answer: CallbackReply | None,
    card_message: Message | None,
    chat: Message,
    employee: Employee,
    lang: str,
    state: FSMContext,
) -> Outcome:
    """Apply a press and render every status but the two that ask for more (time, reason);
    fields the next stage needs are asked here (handlers/fields_ask.py).

    The callback is answered as soon as its text is known, before the cards are rendered (in
    webhook mode in the webhook's reply, right after them)."""
    outcome = await apply_outcome(crm, press)
    status = outcome.status
    if status in (Status.NEEDS_TIME, Status.NEEDS_REASON):
        return outcome
    if status == Status.NEEDS_FIELDS:
        await ask_required(crm, press, outcome, callback_answer, card_message, chat, lang, state)
        return outcome
    if status != Status.NOT_OFFERED:
        await state.clear()
    refused = None
    if status == Status.FORBIDDEN:  # given away between the button's check and the press
        log.warning(
            "employee %s pressed %s on task %s of someone else's deal %s",
            employee.id,
            press.button,
            press.task_id,
            outcome.deal_id,
        )
        refused = refusal_text(await deal_access(employee, deal_id=outcome.deal_id))
    noted = _("Note added")
    if outcome.tags_added:
        noted = _("Note added, tags: {tags}").format(
            tags=" ".join("#" + t for t in outcome.tags_added)
        )
    notice = {
        Status.NOTE_ADDED: noted,
        Status.ALREADY_HANDLED: _("Already handled"),
        Status.FORBIDDEN: refused,
        Status.NOT_OFFERED: _("This button is not offered at this stage"),
    }.get(status)
    if callback_answer is not None:
        callback_answer.text = notice
        callback_answer.send_now()
    elif notice:
        await chat.answer(notice)
    if status == Status.DONE:
        await after_done(
            crm,
            card_message,
            chat,
            employee,
            lang,
            press.task_id,
            press.button,
            outcome,
            press.reason,
        )
    elif status != Status.FORBIDDEN:
        await show_fresh(crm, card_message, employee, lang, outcome.deal_id)
    return outcome


async def typed_press(
    crm: Crm,
    message: Message,
    data: dict[str, Any],
    employee: Employee,
    lang: str,
    state: FSMContext,
    bot: Bot,
    **typed: Any,
) -> None:
    """Press the button an FSM step started from (its task, button and card in `data`), with
    what the rep typed: a time, a reason's text or a note."""
    press = Press(int(data["task"]), str(data["button"]), employee, **typed)
    card = stored_card(bot, message, data)
    await apply_press(crm, press, None, card, message, employee, lang, state)


def stored_card(bot: Bot, chat: Message, data: dict[str, Any]) -> Message | None:
    """The card message an FSM step started from, as an editable Message."""
    message_id = data.get("card")
    if not isinstance(message_id, int):
        return None
    return Message(message_id=message_id, date=chat.date, chat=chat.chat).as_(bot)
