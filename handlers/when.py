"""Asking when the next contact is: the slot keyboard, a typed time, and the time the bot offers
instead when a chosen one is not allowed (moved into working hours, or already past).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot import keyboards
from bot.callbacks import SlotPick, TimeAccept
from bot.cards import format_when, utc_offset, viewer_zone
from bot.editing import edit_markup, pressed_message
from bot.middlewares import CallbackReply
from crm import feed
from crm.context import Crm
from crm.dateparse import EXAMPLES, ParseFailure, parse_when
from crm.engine import Press, place_for_task
from handlers import employee_router
from handlers.pressing import apply_press, stored_card, typed_press
from storage.models import Employee

router = employee_router("when")


class AskTime(StatesGroup):
    when = State()  # data: task, button, card (message id)


async def ask_time(
    crm: Crm,
    card_message: Message,
    employee: Employee,
    lang: str,
    state: FSMContext,
    task_id: int,
    button: str,
) -> None:
    slots = await feed.slots(crm, employee, task_id=task_id)
    zone = viewer_zone(crm.playbook, employee)
    await edit_markup(
        card_message, keyboards.slots_keyboard(slots, task_id, button, crm.now(), zone)
    )
    await state.set_state(AskTime.when)
    await state.update_data(task=task_id, button=button, card=card_message.message_id)
    hint = crm.playbook.buttons[button].hint
    lines = [html.escape(hint.get(lang))] if hint else []
    lines.append(
        _("When is the next contact? Pick an hour above or type it, e.g. {examples}").format(
            examples=html.escape(EXAMPLES[lang])
        )
    )
    await card_message.answer("\n".join(lines))


def _still_ahead(crm: Crm, minute: int) -> datetime | None:
    """The time a button carries (minutes since the epoch); None once it has passed."""
    when = datetime.fromtimestamp(minute * 60, UTC)
    return when if when > crm.now() else None


@router.callback_query(SlotPick.filter())
async def slot_button(
    callback: CallbackQuery,
    callback_data: SlotPick,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackReply,
) -> None:
    card_message = pressed_message(callback)
    if card_message is None:
        return
    when = _still_ahead(crm, callback_data.minute)
    if when is None:
        callback_answer.text = _("That hour has passed: pick another one")
        return
    task_id, button = callback_data.task, callback_data.button
    if await _offered_instead(crm, card_message, employee, task_id, button, when):
        return
    press = Press(task_id, button, employee, when=when)
    await apply_press(
        crm, press, callback_answer, card_message, card_message, employee, lang, state
    )


@router.message(AskTime.when, F.text, ~F.text.startswith("/"))
async def typed_time(
    message: Message,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    bot: Bot,
) -> None:
    zone = viewer_zone(crm.playbook, employee)
    now = crm.now()
    data = await state.get_data()
    task_id, button = int(data["task"]), str(data["button"])
    when = parse_when(message.text or "", now.astimezone(zone))
    if isinstance(when, ParseFailure):
        if when.suggestion is None:
            await message.answer(_unreadable(when, lang))
            return
        suggested = format_when(when.suggestion, now, zone)
        headline = (
            _("That date has already passed this year → {when}")
            if when.reason == "next_year"
            else _("That time has passed → {when}")
        ).format(when=suggested)
        await _offered_instead(crm, message, employee, task_id, button, when.suggestion, headline)
        return
    if await _offered_instead(crm, message, employee, task_id, button, when):
        return
    await typed_press(crm, message, data, employee, lang, state, bot, when=when)


def _unreadable(failure: ParseFailure, lang: str) -> str:
    examples = html.escape(EXAMPLES[lang])
    if failure.reason == "past":
        return _("That date has passed. Type another time, e.g. {examples}").format(
            examples=examples
        )
    return _("I could not read that time. Try like this: {examples}").format(examples=examples)


async def _offered_instead(
    crm: Crm,
    chat: Message,
    employee: Employee,
    task_id: int,
    button: str,
    asked: datetime,
    headline: str | None = None,
) -> bool:
    """When the time asked for would move (working hours, a holiday, the client's night) or was
    a guess (headline), say where it goes and why, with one tap to accept; the rep may type
    another one instead (the FSM step stays). False: the time stands, the caller presses."""
    placed = await place_for_task(crm, task_id, asked)
    if placed.reason is None and headline is None:
        return False
    zone = viewer_zone(crm.playbook, employee)
    now = crm.now()
    moved = format_when(placed.at, now, zone)
    lines = [headline] if headline else []
    if placed.reason is not None:
        was = format_when(asked, now, zone)
        if placed.reason == "holiday":
            line = _("{when} is a holiday → {moved}")
        elif placed.reason == "off_hours":
            line = _("{when} is outside working hours → {moved}")
        else:
            line = _("{when} is night for the client ({offset}) → {moved}")
        offset = utc_offset(asked.astimezone(placed.client_zone)) if placed.client_zone else ""
        lines.append(line.format(when=was, moved=moved, offset=offset))
    lines.append(_("Tap to accept, or type another time."))
    await chat.answer(
        "\n".join(lines),
        reply_markup=keyboards.accept_time_keyboard(task_id, button, placed.at, moved),
    )
    return True


@router.callback_query(TimeAccept.filter())
async def accept_time_button(
    callback: CallbackQuery,
    callback_data: TimeAccept,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackReply,
    bot: Bot,
) -> None:
    offer = pressed_message(callback)
    if offer is None:
        return
    when = _still_ahead(crm, callback_data.minute)
    if when is None:
        callback_answer.text = _("That time has passed: type another one")
        return
    await edit_markup(offer, None)
    data = await state.get_data()
    # The card the time was asked from is edited in place, as after a typed time.
    card = stored_card(bot, offer, data) if data.get("task") == callback_data.task else None
    press = Press(callback_data.task, callback_data.button, employee, when=when)
    await apply_press(crm, press, callback_answer, card, offer, employee, lang, state)
