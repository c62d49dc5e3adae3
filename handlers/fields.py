"""The card's custom fields: the Fields button's list, a choice picked on the card, a value typed
with a clear re-ask when it is not of the field's type. When the fields were asked for by a
press into a stage that needs them, the press is finished once they are all set.

Thin: crm.fields reads, checks and writes; bot/access.py has checked the presser's scope over
the task's deal before any of these runs.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.access import refusal_text
from bot.callbacks import FieldEdit, FieldPick, FieldsOpen
from bot.cards import load_card, viewer_zone
from bot.editing import edit_markup, edit_text, pressed_message
from bot.field_keyboards import fields_keyboard, options_keyboard
from bot.middlewares import CallbackReply
from config.playbook import FieldSpec
from crm import fields
from crm.context import Crm
from crm.engine import Press
from crm.fields import Invalid, Problem
from crm.permissions import deal_access
from handlers import employee_router
from handlers.fields_ask import AskField, ask_field, type_hint
from handlers.pressing import apply_press, stored_card
from storage.models import Deal, Employee

log = logging.getLogger(__name__)

router = employee_router("fields")

CLEAR = "-"  # typed instead of a value: the field is cleared


async def _held(crm: Crm, deal_id: int, key: str) -> tuple[str, ...]:
    return next((f.values for f in await fields.deal_fields(crm.playbook, deal_id)
                 if f.spec.key == key), ())


def _field_button(
    crm: Crm, callback: CallbackQuery, employee: Employee, callback_answer: CallbackReply,
    key: str, option: int = -1,
) -> tuple[FieldSpec, Message] | None:
    """The field a button is about and the card it is under; None (logged, "Unknown button"
    answered) for a forged or stale one: no such field or card, or an option out of its range
    (-1, no option, is always in it)."""
    spec = crm.playbook.field(key)
    card_message = pressed_message(callback)
    if spec is None or card_message is None or not -1 <= option < len(spec.options):
        log.warning("employee %s sent a bad field button %s", employee.id, callback.data)
        callback_answer.text = _("Unknown button")
        return None
    return spec, card_message


@router.callback_query(FieldsOpen.filter())
async def open_fields(
    callback: CallbackQuery, callback_data: FieldsOpen, crm: Crm, employee: Employee, lang: str,
    state: FSMContext, scoped_deal: Deal,
) -> None:
    data = await state.get_data()
    shown = await fields.deal_fields(crm.playbook, scoped_deal.id)
    if data.get("task") == callback_data.task:
        # Done under a multi-choice a press asked for: the press goes on once it holds one.
        asked = next((f for f in shown if f.spec.key == data.get("field")), None)
        card = pressed_message(callback)
        if data.get("then") and asked is not None and asked.values and card is not None:
            await _after_set(crm, card, card, employee, lang, state, callback_data.task,
                             data["then"])
            return
        await state.clear()  # back from a field's options or prompt
    await edit_markup(pressed_message(callback), fields_keyboard(callback_data.task, shown, lang))


@router.callback_query(FieldEdit.filter())
async def edit_field(
    callback: CallbackQuery,
    callback_data: FieldEdit,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackReply,
    scoped_deal: Deal,
) -> None:
    found = _field_button(crm, callback, employee, callback_answer, callback_data.key)
    if found is None:
        return
    spec, card_message = found
    callback_answer.send_now()
    held = await _held(crm, scoped_deal.id, spec.key)
    await ask_field(card_message, card_message, lang, state, callback_data.task, spec, held)


@router.callback_query(FieldPick.filter())
async def pick_option(
    callback: CallbackQuery,
    callback_data: FieldPick,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackReply,
    scoped_deal: Deal,
) -> None:
    found = _field_button(
        crm, callback, employee, callback_answer, callback_data.key, callback_data.option
    )
    if found is None:
        return
    spec, card_message = found
    options = list(spec.options)
    held = await _held(crm, scoped_deal.id, spec.key)
    if callback_data.option == -1:
        picked: list[str] = []
    elif spec.type == "multi":  # a tap toggles the option; Done goes back to the list
        key = options[callback_data.option]
        picked = [k for k in held if k != key] if key in held else [*held, key]
    else:
        picked = [options[callback_data.option]]
    await fields.set_options(spec, scoped_deal.id, picked)
    data = await state.get_data()
    if spec.type == "multi" and callback_data.option != -1:
        await edit_markup(card_message, options_keyboard(callback_data.task, spec, picked, lang))
        return
    callback_answer.send_now()
    then = data.get("then") if data.get("task") == callback_data.task else None
    await _after_set(crm, card_message, card_message, employee, lang, state,
                     callback_data.task, then)


@router.message(AskField.value, F.text, ~F.text.startswith("/"))
async def typed_value(
    message: Message, crm: Crm, employee: Employee, lang: str, state: FSMContext, bot: Bot
) -> None:
    data = await state.get_data()
    task_id = int(data["task"])
    spec = crm.playbook.field(str(data.get("field")))
    # The deal may have changed hands since the button: the scope is checked again.
    access = await deal_access(employee, task_id=task_id)
    if not access.allowed or access.deal is None:
        await state.clear()
        await message.answer(refusal_text(access))
        return
    if spec is None:
        await state.clear()
        await message.answer(_("This field is gone; nothing changed."))
        return
    deal_id = access.deal.id
    text = message.text or ""
    now = crm.now().astimezone(viewer_zone(crm.playbook, employee))
    values = await fields.set_field(spec, deal_id, "" if text.strip() == CLEAR else text, now)
    if isinstance(values, Invalid):
        await message.answer(_refusal(values, type_hint(spec)))
        return  # the FSM step stays: the rep types it again
    label = html.escape(spec.label.get(lang))
    if values:
        shown = fields.shown(spec, [v.value for v in values], lang)
        await message.answer(_("Saved: {field}: {value}").format(field=label,
                                                                 value=html.escape(shown)))
    else:
        await message.answer(_("Cleared: {field}").format(field=label))
    card = stored_card(bot, message, data)
    await _after_set(crm, card, message, employee, lang, state, task_id, data.get("then"))


def _refusal(bad: Invalid, hint: str) -> str:
    if bad.problem == Problem.TOO_LONG:
        return _("That is too long: at most {n} characters. Type it again (/cancel to stop):"
                 ).format(n=fields.MAX_TEXT)
    return _("“{text}” is not {hint}. Type it again (/cancel to stop):").format(
        text=html.escape(bad.text[:100]), hint=html.escape(hint)
    )


async def _after_set(
    crm: Crm,
    card_message: Message | None,
    chat: Message,
    employee: Employee,
    lang: str,
    state: FSMContext,
    task_id: int,
    then: dict[str, Any] | None,
) -> None:
    """The card again with the value; or the press that asked for it, finished (it asks for the
    next missing field itself, if any)."""
    if then is None:
        await state.clear()
        card = await load_card(crm, task_id, lang, employee)
        if card is not None:
            await edit_text(card_message, card.text, card.markup)
        return
    minute = then.get("minute")
    press = Press(
        task_id, str(then["button"]), employee,
        when=datetime.fromtimestamp(minute * 60, UTC) if minute is not None else None,
        reason=then.get("reason"), note=str(then.get("note") or ""),
    )
    await apply_press(crm, press, None, card_message, chat, employee, lang, state)
