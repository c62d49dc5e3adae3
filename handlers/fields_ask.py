"""Asking a rep for a custom field's value: options on the card, or a prompt to type it. Also
the fields a press into a stage needs first (the engine's NEEDS_FIELDS): the press waits in the
FSM data and handlers/fields.py finishes it once they are set. No router.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.editing import edit_markup
from bot.field_keyboards import options_keyboard
from bot.middlewares import CallbackReply
from config.field_spec import FieldSpec
from crm.context import Crm
from crm.engine import Outcome, Press


class AskField(StatesGroup):
    # data: task, card (message id), field (key), then (the press to finish after, or None)
    value = State()  # typed
    pick = State()  # options on the card


def type_hint(spec: FieldSpec) -> str:
    """What to type for a field, with an example."""
    return {
        "number": _("a number, e.g. 12 or 2,5"),
        "money": _("an amount, e.g. 1500 or 1 500,50"),
        "date": _("a date, e.g. 25.12.2026 or “in 2 weeks”"),
        "phone": _("a phone number, e.g. +7 916 123-45-67"),
        "email": _("an e-mail, e.g. anna@example.ru"),
        "url": _("a link, e.g. example.ru/price"),
    }.get(spec.type, _("the text"))


def press_to_finish(press: Press) -> dict[str, Any]:
    """A press as FSM data (JSON: Redis keeps it between updates)."""
    return {
        "button": press.button,
        "minute": int(press.when.timestamp() // 60) if press.when else None,
        "reason": press.reason,
        "note": press.note,
    }


async def ask_field(
    chat: Message,
    card_message: Message | None,
    lang: str,
    state: FSMContext,
    task_id: int,
    spec: FieldSpec,
    held: Sequence[str],
    then: dict[str, Any] | None = None,
) -> None:
    label = html.escape(spec.label.get(lang))
    await state.set_state(AskField.pick if spec.choices else AskField.value)
    await state.update_data(
        task=task_id, card=card_message.message_id if card_message else None, field=spec.key,
        then=then,
    )
    if spec.choices and card_message is not None:
        await edit_markup(card_message, options_keyboard(task_id, spec, held, lang))
        if then is not None:
            await chat.answer(_("First pick “{field}” on the card: the next stage needs it.")
                              .format(field=label))
        return
    lines = [_("The next stage needs “{field}”.").format(field=label)] if then else []
    lines.append(
        _("Type {field}: {hint} (/cancel to stop, “-” clears it)").format(
            field=label, hint=html.escape(type_hint(spec))
        )
    )
    await chat.answer("\n".join(lines))


async def ask_required(
    crm: Crm,
    press: Press,
    outcome: Outcome,
    callback_answer: CallbackReply | None,
    card_message: Message | None,
    chat: Message,
    lang: str,
    state: FSMContext,
) -> None:
    """The first field the press's next stage lacks, the press kept to finish after it."""
    spec = crm.playbook.field(outcome.missing_fields[0])
    if spec is None:  # the playbook changed between the press and now
        return
    if callback_answer is not None:
        callback_answer.text = _("Fill in “{field}” first").format(field=spec.label.get(lang))
        callback_answer.send_now()
    await ask_field(
        chat, card_message, lang, state, press.task_id, spec, (), press_to_finish(press)
    )
