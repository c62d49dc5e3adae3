"""The rep's workspace: the feed, the card's buttons and sub-menus, asking the time, notes.

Thin: every decision is crm's (engine, feed, deals); this module reads the update, makes the call
and renders the answer. Callback data is never trusted: the engine checks ownership and staleness.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, MagicData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot import keyboards
from bot.access import refusal_text
from bot.callbacks import (
    ConveyorToggle,
    NextTask,
    ReasonPick,
    RegionList,
    ShiftToggle,
    SlotPick,
    SubMenuBack,
    TaskAction,
    TimeAccept,
    ZonePick,
)
from bot.cards import (
    card_header,
    closed_card,
    format_when,
    load_card,
    load_deal_card,
    outcome_summary,
    task_kind_name,
    utc_offset,
    viewer_zone,
)
from bot.editing import edit_markup, edit_text, pressed_message
from bot.middlewares import CallbackReply
from crm import feed
from crm.context import Crm
from crm.dateparse import EXAMPLES, ParseFailure, parse_when
from crm.deals import first_phones, pick_region
from crm.engine import Outcome, Press, Status, apply_outcome, place_for_task
from crm.leads import set_shift
from crm.permissions import deal_access
from crm.staff import set_conveyor
from handlers.common import shift_keyboard, shift_text
from storage.models import Deal, Employee, Task, TaskStatus

log = logging.getLogger(__name__)

router = Router(name="rep")
router.message.filter(MagicData(F.employee))
router.callback_query.filter(MagicData(F.employee))

WORKSPACE_PREFIXES = ("a", "m", "s", "r", "z", "zl", "c", "n", "d", "tw")
OTHER_REASON = "other"  # the reason that asks the rep to type what it was


class AskTime(StatesGroup):
    when = State()  # data: task, button, card (message id)


class AskReasonText(StatesGroup):
    text = State()  # data: task, button, reason, card


class AskNote(StatesGroup):
    text = State()  # data: task, button, card


# -- sending and editing cards ---


async def _replace(
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


async def _next_reply(
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


async def _send_reply(crm: Crm, chat: Message, reply: Reply) -> None:
    """Send a feed reply; a card sent this way is not pushed again when it falls due."""
    await chat.answer(reply.text, reply_markup=reply.markup)
    if reply.card_task is not None:
        await feed.card_shown(crm, reply.card_task)


async def _show_next(target: Message, crm: Crm, employee: Employee, lang: str) -> None:
    await _send_reply(crm, target, await _next_reply(crm, employee, lang))


async def _after_done(
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
        closing = asyncio.create_task(_replace(card_message, chat, text, markup))
    # The next card is read while the closed one is on its way, and sent after it.
    try:
        reply = (
            await _next_reply(crm, employee, lang, conveyor=True) if employee.conveyor else None
        )
    finally:
        if closing is not None:
            await closing
    if reply is not None:
        await _send_reply(crm, chat, reply)


async def _show_fresh(
    crm: Crm, card_message: Message | None, employee: Employee, lang: str, deal_id: int | None
) -> None:
    """After a stale press: the deal's current card in place of the stale one."""
    if deal_id is None or card_message is None:
        return
    card = await load_deal_card(crm, deal_id, lang, employee)
    if card is not None:
        await edit_text(card_message, card.text, card.markup)


async def _press(
    crm: Crm,
    press: Press,
    callback_answer: CallbackReply | None,
    card_message: Message | None,
    chat: Message,
    employee: Employee,
    lang: str,
    state: FSMContext,
) -> Outcome:
    """Apply a press and render every status but the two that ask for more (time, reason).

    The callback is answered as soon as its text is known, before the cards are rendered."""
    outcome = await apply_outcome(crm, press)
    status = outcome.status
    if status in (Status.NEEDS_TIME, Status.NEEDS_REASON):
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
        await _after_done(
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
        await _show_fresh(crm, card_message, employee, lang, outcome.deal_id)
    return outcome


# -- the feed ---


@router.message(Command("next"))
async def next_command(message: Message, crm: Crm, employee: Employee, lang: str) -> None:
    await _show_next(message, crm, employee, lang)


@router.callback_query(NextTask.filter())
async def next_button(callback: CallbackQuery, crm: Crm, employee: Employee, lang: str) -> None:
    if (message := pressed_message(callback)) is not None:
        await _show_next(message, crm, employee, lang)


@router.message(Command("conveyor"))
async def conveyor_command(message: Message, employee: Employee) -> None:
    await set_conveyor(employee, not employee.conveyor)
    await message.answer(_conveyor_text(employee.conveyor))


@router.callback_query(ConveyorToggle.filter())
async def conveyor_button(
    callback: CallbackQuery,
    callback_data: ConveyorToggle,
    employee: Employee,
    callback_answer: CallbackAnswer,
) -> None:
    await set_conveyor(employee, bool(callback_data.on))
    callback_answer.text = _conveyor_text(employee.conveyor)
    await edit_markup(
        pressed_message(callback), keyboards.after_outcome_keyboard(employee.conveyor)
    )


def _conveyor_text(on: bool) -> str:
    return (
        _("Conveyor on: the next card comes by itself after each outcome.")
        if on
        else _("Conveyor off: press Next task or send /next for the next card.")
    )


@router.message(Command("shift"))
async def shift_command(message: Message, employee: Employee) -> None:
    await set_shift(employee, not employee.on_shift)
    on = employee.on_shift
    await message.answer(shift_text(on), reply_markup=shift_keyboard(on))


@router.callback_query(ShiftToggle.filter())
async def shift_button(
    callback: CallbackQuery,
    callback_data: ShiftToggle,
    employee: Employee,
    callback_answer: CallbackAnswer,
) -> None:
    await set_shift(employee, bool(callback_data.on))
    callback_answer.text = shift_text(employee.on_shift)
    await edit_markup(pressed_message(callback), shift_keyboard(employee.on_shift))


@router.message(Command("today"))
async def today(message: Message, crm: Crm, employee: Employee, lang: str) -> None:
    zone = viewer_zone(crm.playbook, employee)
    now = crm.now()
    day = now.astimezone(zone).date()
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    tasks = (
        await Task.filter(assignee_id=employee.id, status=TaskStatus.OPEN, due_at__lt=end)
        .order_by("due_at", "id")
        .select_related("deal__contact")
    )
    by_hour = await feed.load_by_hour(employee, day, zone)
    phones = await first_phones({t.deal.contact.id for t in tasks if not t.deal.contact.name})
    await message.answer(_agenda(crm, tasks, by_hour, phones, day, now, lang, employee))


def _agenda(
    crm: Crm,
    tasks: list[Task],
    by_hour: dict[int, int],
    phones: dict[int, str],
    day: date,
    now: datetime,
    lang: str,
    employee: Employee,
) -> str:
    zone = viewer_zone(crm.playbook, employee)
    start = datetime.combine(day, time(), tzinfo=zone)
    overdue = [t for t in tasks if t.due_at < start]
    lines = ["📅 " + _("Today, {date}").format(date=day.strftime("%d.%m"))]
    if overdue:
        lines.append("⚠️ " + _("Overdue from earlier days: {n}").format(n=len(overdue)))
    hour = None
    for task in tasks:
        if task.due_at < start:
            continue
        local = task.due_at.astimezone(zone)
        if local.hour != hour:
            hour = local.hour
            lines.append(f"\n<b>{hour:02d}:00 · {by_hour.get(hour, 0)}</b>")
        late = "⚠️ " if task.due_at < now else ""
        contact = task.deal.contact
        name = contact.name or phones.get(contact.id) or _("No name")
        kind = task_kind_name(crm.playbook, task.kind, lang)
        lines.append(f"{late}{local:%H:%M} {html.escape(name)} · {html.escape(kind)}")
        if len("\n".join(lines)) > 3800:
            lines.append("…")
            break
    if len(lines) == 1 + bool(overdue):
        lines.append(_("No tasks for today."))
    return "\n".join(lines)


# -- the card's buttons ---


@router.callback_query(TaskAction.filter())
async def outcome_button(
    callback: CallbackQuery,
    callback_data: TaskAction,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackReply,
) -> None:
    pb = crm.playbook
    spec = pb.buttons.get(callback_data.button)
    card_message = pressed_message(callback)
    if spec is None or card_message is None:
        log.warning("employee %s pressed an unknown button %r", employee.id, callback_data.button)
        callback_answer.text = _("Unknown button")
        return
    task_id, button = callback_data.task, callback_data.button
    if spec.submenu:
        callback_answer.send_now()
        await edit_markup(card_message, keyboards.submenu_keyboard(pb, lang, task_id, button))
        return
    if spec.note:
        await state.set_state(AskNote.text)
        await state.update_data(task=task_id, button=button, card=card_message.message_id)
        await card_message.answer(_("Type the note for this deal (/cancel to stop):"))
        return
    outcome = await _press(
        crm,
        Press(task_id, button, employee),
        callback_answer,
        card_message,
        card_message,
        employee,
        lang,
        state,
    )
    if outcome.status == Status.NEEDS_TIME:
        await _ask_time(crm, card_message, employee, lang, state, task_id, button)
    elif outcome.status == Status.NEEDS_REASON:
        await edit_markup(card_message, keyboards.reasons_keyboard(pb, lang, task_id, button))


async def _ask_time(
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


@router.callback_query(SubMenuBack.filter())
async def back_button(
    callback: CallbackQuery,
    callback_data: SubMenuBack,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    if data.get("task") == callback_data.task:
        await state.clear()
    card = await load_card(crm, callback_data.task, lang, employee)
    if card is not None:
        await edit_text(pressed_message(callback), card.text, card.markup)


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
    when = datetime.fromtimestamp(callback_data.minute * 60, UTC)
    if when <= crm.now():
        callback_answer.text = _("That hour has passed: pick another one")
        return
    task_id, button = callback_data.task, callback_data.button
    if await _offered_instead(crm, card_message, employee, task_id, button, when):
        return
    press = Press(task_id, button, employee, when=when)
    await _press(crm, press, callback_answer, card_message, card_message, employee, lang, state)


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
    await _typed_press(crm, message, data, employee, lang, state, bot, when=when)


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
    when = datetime.fromtimestamp(callback_data.minute * 60, UTC)
    if when <= crm.now():
        callback_answer.text = _("That time has passed: type another one")
        return
    await edit_markup(offer, None)
    data = await state.get_data()
    # The card the time was asked from is edited in place, as after a typed time.
    card = _stored_card(bot, offer, data) if data.get("task") == callback_data.task else None
    press = Press(callback_data.task, callback_data.button, employee, when=when)
    await _press(crm, press, callback_answer, card, offer, employee, lang, state)


async def _typed_press(
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
    await _press(crm, press, None, _stored_card(bot, message, data), message, employee, lang, state)


def _stored_card(bot: Bot, chat: Message, data: dict[str, Any]) -> Message | None:
    """The card message an FSM step started from, as an editable Message."""
    message_id = data.get("card")
    if not isinstance(message_id, int):
        return None
    return Message(message_id=message_id, date=chat.date, chat=chat.chat).as_(bot)


@router.callback_query(ReasonPick.filter())
async def reason_button(
    callback: CallbackQuery,
    callback_data: ReasonPick,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackReply,
) -> None:
    spec = crm.playbook.buttons.get(callback_data.button)
    card_message = pressed_message(callback)
    if spec is None or not 0 <= callback_data.index < len(spec.reasons) or card_message is None:
        log.warning("employee %s sent a bad reason pick %s", employee.id, callback.data)
        callback_answer.text = _("Unknown button")
        return
    reason = spec.reasons[callback_data.index]
    if reason == OTHER_REASON:
        await state.set_state(AskReasonText.text)
        await state.update_data(
            task=callback_data.task,
            button=callback_data.button,
            reason=reason,
            card=card_message.message_id,
        )
        await card_message.answer(_("What was the reason? Type it (/cancel to stop):"))
        return
    press = Press(callback_data.task, callback_data.button, employee, reason=reason)
    await _press(crm, press, callback_answer, card_message, card_message, employee, lang, state)


@router.message(AskReasonText.text, F.text, ~F.text.startswith("/"))
async def typed_reason(
    message: Message,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    bot: Bot,
) -> None:
    data = await state.get_data()
    reason, note = str(data["reason"]), message.text or ""
    await _typed_press(crm, message, data, employee, lang, state, bot, reason=reason, note=note)


@router.message(AskNote.text, F.text, ~F.text.startswith("/"))
async def typed_note(
    message: Message,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    bot: Bot,
) -> None:
    note = message.text or ""
    await _typed_press(crm, message, await state.get_data(), employee, lang, state, bot, note=note)


@router.callback_query(RegionList.filter())
async def region_list(
    callback: CallbackQuery, callback_data: RegionList, employee: Employee
) -> None:
    """The card's one Region button opens the list, the rep's recent picks first."""
    keyboard = keyboards.regions_keyboard(callback_data.task, employee.recent_regions)
    await edit_markup(pressed_message(callback), keyboard)


@router.callback_query(ZonePick.filter())
async def zone_button(
    callback: CallbackQuery,
    callback_data: ZonePick,
    crm: Crm,
    employee: Employee,
    lang: str,
    callback_answer: CallbackAnswer,
    scoped_deal: Deal,
) -> None:
    if not await pick_region(employee, scoped_deal.contact_id, callback_data.zone):  # type: ignore[attr-defined]
        callback_answer.text = _("Unknown button")
        return
    card = await load_card(crm, callback_data.task, lang, employee)
    if card is not None:
        await edit_text(pressed_message(callback), card.text, card.markup)


# -- forged or stale data ---


@router.callback_query(
    F.data.func(lambda data: (data or "").split(":", 1)[0] in WORKSPACE_PREFIXES)
)
async def unknown_button(
    callback: CallbackQuery, employee: Employee, callback_answer: CallbackAnswer
) -> None:
    """Workspace data that matched no factory: forged or from an older version of the bot."""
    log.warning("employee %s sent unreadable callback data %r", employee.id, callback.data)
    callback_answer.text = _("Unknown button")
