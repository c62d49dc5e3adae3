"""/pipeline → Fields: the admin adds, renames, reorders and removes custom fields through
crm.field_admin. Removal asks first, saying how many deals (or contacts) hold a value.
"""

from __future__ import annotations

import html
import logging

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot.callbacks import FieldAdmin
from bot.editing import edit_text, pressed_message
from bot.field_keyboards import (
    admin_field_keyboard,
    admin_fields_keyboard,
    confirm_removal_keyboard,
)
from config.field_spec import FieldSpec
from crm import field_admin
from crm.context import Crm
from crm.field_admin import FieldError
from handlers import employee_router
from storage.models import Employee, Role

log = logging.getLogger(__name__)

router = employee_router("admin_fields", F.employee.role == Role.ADMIN)


class FieldAdminEdit(StatesGroup):
    new = State()
    rename = State()  # data: key, lang


def _error_text(error: FieldError) -> str:
    return {
        FieldError.FORMAT: _("Type: key type deal|contact Name, e.g. budget money deal Budget"),
        FieldError.BAD_KEY: _(
            "The key must be latin lowercase letters, digits and _, starting with a letter"
        ),
        FieldError.TAKEN: _("A field with this key exists or existed already"),
        FieldError.BAD_TYPE: _("The type must be one of: {types}").format(
            types="text, number, money, date, choice, multi, phone, email, url"
        ),
        FieldError.BAD_OWNER: _("Say whose field it is: deal or contact"),
        FieldError.BAD_NAME: _("The name must be 1 to 64 characters"),
        FieldError.NO_OPTIONS: _("A choice needs its options after a colon: Name: one, two"),
        FieldError.UNKNOWN: _("No such field (removed meanwhile?)"),
    }[error]


def _describe(spec: FieldSpec, lang: str) -> str:
    whose = _("deal") if spec.of == "deal" else _("contact")
    options = ", ".join(o.get(lang) for o in spec.options.values())
    line = (f"<b>{html.escape(spec.label.ru)}</b> / <b>{html.escape(spec.label.en)}</b> "
            f"<code>{spec.key}</code> · {spec.type} · {whose}")
    return line + (f"\n{html.escape(options)}" if options else "")


def _overview(crm: Crm, lang: str) -> tuple[str, InlineKeyboardMarkup]:
    fields = crm.playbook.fields
    lines = ["<b>" + _("Custom fields") + "</b>"]
    lines += [f"{n}. {_describe(f, lang)}" for n, f in enumerate(fields, 1)]
    lines += ["", _("Pick a field to edit it.")]
    return "\n".join(lines), admin_fields_keyboard(fields, lang)


@router.callback_query(FieldAdmin.filter())
async def field_admin_button(
    callback: CallbackQuery,
    callback_data: FieldAdmin,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    message = pressed_message(callback)
    action, key = callback_data.action, callback_data.key
    spec = crm.playbook.field(key)
    if action == "list":
        await edit_text(message, *_overview(crm, lang))
    elif action == "add":
        await state.set_state(FieldAdminEdit.new)
        if message:
            await message.answer(_(
                "The new field in one line: key, type, deal or contact, name; a choice's "
                "options after a colon. E.g.\n<code>budget money deal Budget</code>\n"
                "<code>tier choice contact Tier: Basic, Pro</code>\nTypes: text, number, "
                "money, date, choice, multi, phone, email, url. /cancel to stop."
            ))
    elif spec is None:
        log.warning("admin %s: field action %r on a missing field", employee.id, callback.data)
        callback_answer.text = _("No such field (removed meanwhile?)")
        await edit_text(message, *_overview(crm, lang))
    elif action == "field":
        await edit_text(message, _describe(spec, lang), admin_field_keyboard(key))
    elif action == "rename" and callback_data.lang in ("ru", "en"):
        await state.set_state(FieldAdminEdit.rename)
        await state.update_data(key=key, lang=callback_data.lang)
        if message:
            await message.answer(_("Type the new name (/cancel to stop):"))
    elif action in ("up", "down"):
        await field_admin.move_field(crm, key, -1 if action == "up" else 1)
        await edit_text(message, *_overview(crm, lang))
    elif action == "remove":
        n = await field_admin.holders(crm, key)
        holders = (_("Deals holding a value: {n}") if spec.of == "deal"
                   else _("Contacts holding a value: {n}")).format(n=n)
        text = "\n\n".join([_describe(spec, lang), holders,
                            _("Remove the field and these values?")])
        await edit_text(message, text, confirm_removal_keyboard(key))
    elif action == "removeok":
        removed = await field_admin.remove_field(crm, key)
        if isinstance(removed, FieldError):
            callback_answer.text = _error_text(removed)
            return
        log.info("admin %s removed field %s with %s values", employee.id, key, removed)
        text, markup = _overview(crm, lang)
        done = _("Field removed, values deleted: {n}").format(n=removed)
        await edit_text(message, f"{done}\n\n{text}", markup)
    else:
        log.warning("admin %s: unknown field action %r", employee.id, callback.data)
        callback_answer.text = _("Unknown button")


async def _done(message: Message, crm: Crm, lang: str, state: FSMContext,
                error: FieldError | None) -> None:
    """After a typed edit: the error (the step stays, to try again) or the fields."""
    if error is not None:
        await message.answer(_error_text(error))
        return
    await state.clear()
    text, markup = _overview(crm, lang)
    await message.answer(_("Saved") + "\n\n" + text, reply_markup=markup)


@router.message(FieldAdminEdit.new, F.text, ~F.text.startswith("/"))
async def typed_new_field(message: Message, crm: Crm, lang: str, state: FSMContext) -> None:
    spec = field_admin.parse_new_field(message.text or "")
    error = spec if isinstance(spec, FieldError) else await field_admin.add_field(crm, spec)
    await _done(message, crm, lang, state, error)


@router.message(FieldAdminEdit.rename, F.text, ~F.text.startswith("/"))
async def typed_field_name(message: Message, crm: Crm, lang: str, state: FSMContext) -> None:
    data = await state.get_data()
    error = await field_admin.rename_field(
        crm, str(data["key"]), str(data["lang"]), (message.text or "").strip()
    )
    await _done(message, crm, lang, state, error)
