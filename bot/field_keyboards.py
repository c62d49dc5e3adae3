"""Keyboards of custom fields: on a card, the list of fields with their values and a choice
field's options (a multi-choice marks the ones it holds); under /pipeline, the admin's editor."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.callbacks import FieldAdmin, FieldEdit, FieldPick, FieldsOpen, PipelineAction, SubMenuBack
from config.field_spec import FieldSpec
from crm.fields import Shown, shown

_BUTTON_CHARS = 40  # a value longer than this is cut on its button; the card shows it whole


def _cut(text: str) -> str:
    return text if len(text) <= _BUTTON_CHARS else text[: _BUTTON_CHARS - 1] + "…"


def fields_keyboard(task_id: int, fields: Sequence[Shown], lang: str) -> InlineKeyboardMarkup:
    """One button a field, 'Label: value' (or the label alone when unset), then Back."""
    rows = []
    for f in fields:
        text = f.spec.label.get(lang)
        if f.values:
            text += ": " + shown(f.spec, f.values, lang)
        data = FieldEdit(task=task_id, key=f.spec.key).pack()
        rows.append([InlineKeyboardButton(text=_cut(text), callback_data=data)])
    back = SubMenuBack(task=task_id).pack()
    rows.append([InlineKeyboardButton(text=_("« Back"), callback_data=back)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def options_keyboard(
    task_id: int, spec: FieldSpec, held: Sequence[str], lang: str
) -> InlineKeyboardMarkup:
    """The field's options, two a row, ✓ on those held; Clear; then back to the list."""
    buttons = [
        InlineKeyboardButton(
            text=("✓ " if key in held else "") + label.get(lang),
            callback_data=FieldPick(task=task_id, key=spec.key, option=i).pack(),
        )
        for i, (key, label) in enumerate(spec.options.items())
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    clear = FieldPick(task=task_id, key=spec.key, option=-1).pack()
    back = FieldsOpen(task=task_id).pack()
    rows.append([
        InlineKeyboardButton(text=_("Clear"), callback_data=clear),
        InlineKeyboardButton(text=_("Done") if spec.type == "multi" else _("« Back"),
                             callback_data=back),
    ])
    return InlineKeyboardMarkup(inline_keyboard=rows)


# -- the admin's field editor under /pipeline (handlers/admin_fields.py) --


def _admin(text: str, action: str, key: str = "", lang: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=FieldAdmin(action=action, key=key, lang=lang).pack()
    )


def admin_fields_keyboard(fields: Sequence[FieldSpec], lang: str) -> InlineKeyboardMarkup:
    rows = [[_admin(f.label.get(lang), "field", f.key)] for f in fields]
    rows.append([_admin(_("➕ Add field"), "add")])
    rows.append([InlineKeyboardButton(text=_("« Back"),
                                      callback_data=PipelineAction(action="list").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def admin_field_keyboard(key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_admin(_("✏️ Name (RU)"), "rename", key, "ru"),
         _admin(_("✏️ Name (EN)"), "rename", key, "en")],
        [_admin("⬆️", "up", key), _admin("⬇️", "down", key)],
        [_admin(_("🗑 Remove"), "remove", key)],
        [_admin(_("« Back"), "list")],
    ])


def confirm_removal_keyboard(key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_admin(_("Yes, remove"), "removeok", key), _admin(_("No"), "field", key)],
    ])
