"""The card's buttons: outcomes and their sub-menus, reasons, notes, the client's region, and
forged or stale data. Asking the time is handlers/when.py; the feed is handlers/feed.py.

Thin: every decision is crm's (engine, feed, deals); this module reads the update, makes the call
and renders the answer. bot/access.py has checked the presser's scope over the deal first.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot import keyboards
from bot.callbacks import (
    ReasonPick,
    RegionList,
    SubMenuBack,
    TaskAction,
    ZonePick,
)
from bot.cards import (
    load_card,
)
from bot.editing import edit_markup, edit_text, pressed_message
from bot.middlewares import CallbackReply
from crm.context import Crm
from crm.deals import pick_region
from crm.engine import Press, Status
from handlers import employee_router
from handlers.pressing import apply_press, typed_press
from handlers.when import ask_time
from storage.models import Deal, Employee

log = logging.getLogger(__name__)

router = employee_router("rep")

WORKSPACE_PREFIXES = ("a", "m", "s", "r", "z", "zl", "c", "n", "d", "tw")
OTHER_REASON = "other"  # the reason that asks the rep to type what it was


class AskReasonText(StatesGroup):
    text = State()  # data: task, button, reason, card


class AskNote(StatesGroup):
    text = State()  # data: task, button, card


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
    outcome = await apply_press(
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
        await ask_time(crm, card_message, employee, lang, state, task_id, button)
    elif outcome.status == Status.NEEDS_REASON:
        await edit_markup(card_message, keyboards.reasons_keyboard(pb, lang, task_id, button))


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
    await apply_press(
        crm, press, callback_answer, card_message, card_message, employee, lang, state
    )


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
    await typed_press(crm, message, data, employee, lang, state, bot, reason=reason, note=note)


@router.message(AskNote.text, F.text, ~F.text.startswith("/"))
async def typed_note(
    message: Message,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    bot: Bot,
) -> None:
    # Not one handler with typed_reason: a note step's data may still hold a reason picked
    # before the rep turned to the Note button (update_data merges), which must not go in.
    note = message.text or ""
    await typed_press(crm, message, await state.get_data(), employee, lang, state, bot, note=note)


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


@router.callback_query(
    F.data.func(lambda data: (data or "").split(":", 1)[0] in WORKSPACE_PREFIXES)
)
async def unknown_button(
    callback: CallbackQuery, employee: Employee, callback_answer: CallbackAnswer
) -> None:
    """Workspace data that matched no factory: forged or from an older version of the bot."""
    log.warning("employee %s sent unreadable callback data %r", employee.id, callback.data)
    callback_answer.text = _("Unknown button")
