"""The admin's edits of the custom fields from /pipeline: add, rename, reorder, remove.

The `field_def` table holds the fields (crm.pipeline seeds it from the playbook and folds it into
crm.playbook on every refresh). Values are stored by the field's key, which never changes: a
rename changes labels only, so every value stays. Removing a field deletes its values, so the
bot first says how many deals (or contacts) hold one (holders).
"""

from __future__ import annotations

import enum
import re

from pydantic import ValidationError
from tortoise.transactions import in_transaction

from config.field_spec import FIELD_TYPES, FieldSpec
from crm.context import Crm
from crm.pipeline import refresh_pipeline
from storage import fields as store
from storage.models import FieldDef

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_OWNERS = {"deal": "deal", "contact": "contact", "сделка": "deal", "контакт": "contact"}


class FieldError(enum.StrEnum):
    FORMAT = "format"  # not "key type deal|contact Name[: option, option]"
    BAD_KEY = "bad_key"
    TAKEN = "taken"
    BAD_TYPE = "bad_type"
    BAD_OWNER = "bad_owner"
    BAD_NAME = "bad_name"
    NO_OPTIONS = "no_options"
    UNKNOWN = "unknown"


def parse_new_field(text: str) -> FieldSpec | FieldError:
    """`budget money deal Бюджет`, `product choice deal Продукт: Базовый, Профи`: key, type,
    whose (deal or contact), the name (both languages at first), options after a colon."""
    head, _, options_text = text.partition(":")
    parts = head.split(maxsplit=3)
    if len(parts) < 4:
        return FieldError.FORMAT
    key, kind, owner, name = parts[0].lower(), parts[1].lower(), parts[2].lower(), parts[3].strip()
    if not _KEY_RE.match(key):
        return FieldError.BAD_KEY
    if kind not in FIELD_TYPES:
        return FieldError.BAD_TYPE
    if owner not in _OWNERS:
        return FieldError.BAD_OWNER
    if not 0 < len(name) <= 64:
        return FieldError.BAD_NAME
    labels = [o.strip() for o in options_text.split(",") if o.strip()]
    if kind in ("choice", "multi") and not labels:
        return FieldError.NO_OPTIONS
    if any(len(label) > 64 for label in labels):
        return FieldError.BAD_NAME
    # Option keys are made up (labels may be Cyrillic); /find and CSV match labels too.
    options = {f"o{i}": {"ru": label, "en": label} for i, label in enumerate(labels, 1)}
    try:
        return FieldSpec.model_validate({
            "key": key, "of": _OWNERS[owner], "label": {"ru": name, "en": name}, "type": kind,
            "options": options if kind in ("choice", "multi") else {},
        })
    except ValidationError:
        return FieldError.FORMAT


async def add_field(crm: Crm, spec: FieldSpec) -> FieldError | None:
    """The field goes last; a key used before (even by a removed field) is refused, so old
    values never reappear under a new meaning."""
    if await FieldDef.exists(key=spec.key):
        return FieldError.TAKEN
    position = await FieldDef.all().count()
    await FieldDef.create(key=spec.key, position=position, spec=spec.model_dump())
    await refresh_pipeline(crm)
    return None


async def rename_field(crm: Crm, key: str, lang: str, name: str) -> FieldError | None:
    if not 0 < len(name) <= 64:
        return FieldError.BAD_NAME
    row = await FieldDef.get_or_none(key=key, removed=False)
    if row is None:
        return FieldError.UNKNOWN
    spec = FieldSpec.model_validate(row.spec)
    label = spec.label.model_copy(update={"en" if lang == "en" else "ru": name})
    row.spec = spec.model_copy(update={"label": label}).model_dump()
    await row.save(update_fields=["spec"])
    await refresh_pipeline(crm)
    return None


async def move_field(crm: Crm, key: str, delta: int) -> FieldError | None:
    """Up (-1) or down (+1) among the fields: the card's order."""
    rows = await FieldDef.filter(removed=False).order_by("position", "id")
    keys = [r.key for r in rows]
    if key not in keys:
        return FieldError.UNKNOWN
    i = keys.index(key)
    keys.insert(max(0, min(len(keys) - 1, i + delta)), keys.pop(i))
    async with in_transaction():
        for position, k in enumerate(keys):
            await FieldDef.filter(key=k).update(position=position)
    await refresh_pipeline(crm)
    return None


async def holders(crm: Crm, key: str) -> int:
    """How many deals (contacts, for a contact's field) hold a value of the field."""
    spec = crm.playbook.field(key)
    return await store.holders(spec.of, key) if spec else 0


async def remove_field(crm: Crm, key: str) -> FieldError | int:
    """Remove the field and its values; returns how many values went."""
    spec = crm.playbook.field(key)
    if spec is None:
        return FieldError.UNKNOWN
    async with in_transaction():
        await FieldDef.filter(key=key).update(removed=True)
        removed = await store.remove_key(spec.of, key)
    await refresh_pipeline(crm)
    return removed
