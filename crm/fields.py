"""Custom fields: what a typed value means for each type, and reading and writing the values.

The playbook defines the fields (config/field_spec.py FieldSpec); storage/fields.py keeps one row
per value with its folded form, which every lookup matches by index: /find `key:value`, the
board's filters (deals_filter) and the reports grouped by a choice field. A deal enters a stage
that requires fields only with them set (missing_for_stage, checked by crm.engine on a press).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from tortoise.expressions import Q

from config.field_spec import FieldSpec
from config.playbook import Playbook
from crm.dateparse import ParseFailure, parse_when
from crm.deals import normalize_email
from crm.phones import normalize_phone, pretty_phone
from storage import fields as store
from storage.fields import FOLDED_CHARS, Stored
from storage.models import Deal

MAX_TEXT = 1000  # a text value; longer is a note, not a field


class Problem(enum.StrEnum):
    """Why a typed value was refused; the bot says it and asks again."""

    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    CHOICE = "choice"
    PHONE = "phone"
    EMAIL = "email"
    URL = "url"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class Invalid:
    problem: Problem
    text: str  # what was typed


def fold(text: str) -> str:
    """The form values are matched by: case-folded, spaces collapsed, cut to the index's width."""
    return " ".join(text.casefold().split())[:FOLDED_CHARS]


def _number(text: str) -> Decimal | None:
    """'1 500,50', '1,500.50', '1.500,50', '-3' -> Decimal; the last of , and . is the mark."""
    cleaned = re.sub(r"[\s\u00a0₽$€]|руб\.?|rub", "", text.lower())
    if "," in cleaned and "." in cleaned:
        cleaned = cleaned.replace("," if cleaned.rfind(",") < cleaned.rfind(".") else ".", "")
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


_FULL_DATE = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$|^(\d{4})-(\d{2})-(\d{2})$")


def _date(text: str, now: datetime | None) -> date | None:
    """A full date (25.12.2026, 2026-12-25), past ones too; else, given `now`, a rep's words
    through the parser of times ('завтра', 'через 2 недели', '25 декабря')."""
    if m := _FULL_DATE.match(text.strip()):
        day, month, year = (m[1], m[2], m[3]) if m[1] else (m[6], m[5], m[4])
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            return None
    if now is None:
        return None
    when = parse_when(text, now)
    if isinstance(when, ParseFailure):
        # "25 марта" gone this year: that date in the next year it exists, as for times.
        return when.suggestion.date() if when.suggestion and when.reason == "next_year" else None
    return when.date()


def _url(text: str) -> str | None:
    url = text.strip()
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "." not in (parts.hostname or ""):
        return None
    return url if " " not in url else None


def option_key(spec: FieldSpec, text: str) -> str | None:
    """The option a text names: its key or its label in either language, in any case."""
    wanted = fold(text)
    for key, label in spec.options.items():
        if wanted in (key, fold(label.ru), fold(label.en)):
            return key
    return None


_PROBLEMS = {p.value: p for p in Problem}


def parse(spec: FieldSpec, text: str, now: datetime | None) -> list[Stored] | Invalid:
    """A typed value as stored; `now` (aware, the rep's zone) reads dates in words (without it,
    full dates only). Empty clears."""
    raw = text.strip()
    if not raw:
        return []
    bad = Invalid(_PROBLEMS.get(spec.type, Problem.CHOICE), raw)
    if spec.type == "text":
        return [Stored(raw, fold(raw))] if len(raw) <= MAX_TEXT else Invalid(Problem.TOO_LONG, raw)
    if spec.type in ("number", "money"):
        number = _number(raw)
        if number is None:
            return bad
        if spec.type == "money":
            minor = int((number * 100).to_integral_value())
            return [Stored(str(minor), str(minor), float(minor))]
        shown = format(number.normalize(), "f")
        return [Stored(shown, shown, float(number))]
    if spec.type == "date":
        day = _date(raw, now)
        return [Stored(day.isoformat(), day.isoformat())] if day else bad
    if spec.type == "phone":
        phone = normalize_phone(raw)
        return [Stored(phone, phone)] if phone else bad
    if spec.type == "email":
        email = normalize_email(raw)
        return [Stored(email, email)] if email else bad
    if spec.type == "url":
        url = _url(raw)
        return [Stored(url, fold(url))] if url else bad
    keys = [option_key(spec, part) for part in (raw.split(",") if spec.type == "multi" else [raw])]
    if None in keys:
        return Invalid(Problem.CHOICE, raw)
    return [Stored(k, k) for k in dict.fromkeys(k for k in keys if k)]


def _money(minor: int) -> str:
    units, cents = divmod(abs(minor), 100)
    whole = f"{'-' if minor < 0 else ''}{units:,}".replace(",", " ")
    return f"{whole},{cents:02d}" if cents else whole


def shown(spec: FieldSpec, values: Sequence[str], lang: str) -> str:
    """Stored values as people read them: labels, 25.12.2026, 1 500,50, +7 916 123-45-67."""
    out = []
    for value in values:
        if spec.choices:
            label = spec.options.get(value)
            out.append(label.get(lang) if label else value)
        elif spec.type == "money":
            out.append(_money(int(value)))
        elif spec.type == "date":
            out.append(date.fromisoformat(value).strftime("%d.%m.%Y"))
        elif spec.type == "phone":
            out.append(pretty_phone(value))
        else:
            out.append(value)
    return ", ".join(out)


@dataclass(frozen=True)
class Shown:
    spec: FieldSpec
    values: tuple[str, ...]  # stored, in the order written; empty when unset


async def deal_fields(playbook: Playbook, deal_id: int) -> list[Shown]:
    """Every field of the playbook with the deal's (or its contact's) values, in playbook order."""
    found: dict[tuple[str, str], list[str]] = {}
    if playbook.fields:
        for v in await store.values_of_deal(deal_id):
            found.setdefault((v.owner, v.key), []).append(v.value)
    return [Shown(f, tuple(found.get((f.of, f.key), ()))) for f in playbook.fields]


async def _owner_id(spec: FieldSpec, deal_id: int) -> int | None:
    if spec.of == "deal":
        return deal_id
    contact = await Deal.filter(id=deal_id).values_list("contact_id", flat=True)
    return int(contact[0]) if contact else None  # type: ignore[call-overload]


async def set_field(
    spec: FieldSpec, deal_id: int, text: str, now: datetime
) -> list[Stored] | Invalid:
    """Set the field of a deal (or of its contact) from typed text; empty text clears it."""
    values = parse(spec, text, now)
    if isinstance(values, Invalid):
        return values
    owner_id = await _owner_id(spec, deal_id)
    if owner_id is not None:
        await store.replace(spec.of, owner_id, spec.key, values)
    return values


async def set_options(spec: FieldSpec, deal_id: int, keys: Sequence[str]) -> None:
    """A choice picked (or a multi-choice's set): only the playbook's options are kept."""
    owner_id = await _owner_id(spec, deal_id)
    if owner_id is not None:
        stored = [Stored(k, k) for k in dict.fromkeys(keys) if k in spec.options]
        await store.replace(spec.of, owner_id, spec.key, stored)


def required_for(playbook: Playbook, stage: str) -> list[FieldSpec]:
    return [f for f in playbook.fields if stage in f.required_in]


async def missing_for_stage(playbook: Playbook, deal_id: int, stage: str) -> list[FieldSpec]:
    """The fields the stage requires that the deal (or its contact) has no value for, in
    playbook order: a press or a board move into the stage asks for them first. No query when
    the stage requires none."""
    required = required_for(playbook, stage)
    if not required:
        return []
    held = {(v.owner, v.key) for v in await store.values_of_deal(deal_id)}
    return [f for f in required if (f.of, f.key) not in held]


@dataclass(frozen=True)
class FieldQuery:
    spec: FieldSpec
    folded: tuple[str, ...]  # the stored forms the value may take


def _spec_named(playbook: Playbook, name: str) -> FieldSpec | None:
    wanted = fold(name)
    for spec in playbook.fields:
        if wanted in (spec.key, fold(spec.label.ru), fold(spec.label.en)):
            return spec
    return None


def field_query(playbook: Playbook, text: str, now: datetime) -> FieldQuery | None:
    """'city:Казань', 'Город: Казань', 'product:Pro': a field named by key or label and a value
    as typed; None when the text names no field (it is searched as a name then)."""
    name, sep, value = text.partition(":")
    spec = _spec_named(playbook, name) if sep else None
    if spec is None or not value.strip():
        return None
    return FieldQuery(spec, tuple(_folded_forms(spec, value, now)))


def _folded_forms(spec: FieldSpec, value: str, now: datetime) -> list[str]:
    if spec.choices:
        return [k for part in value.split(",") if (k := option_key(spec, part))]
    if spec.type in ("text", "url"):
        return [fold(value)]
    # Other types are stored normalised: a value that does not normalise matches nothing.
    parsed = parse(spec, value, now)
    return [] if isinstance(parsed, Invalid) else [s.folded for s in parsed]


async def find_deal_ids(query: FieldQuery, limit: int) -> list[int]:
    """The newest deals holding the value (themselves or through their contact)."""
    if not query.folded:
        return []
    return await store.deal_ids_with(query.spec.of, query.spec.key, query.folded, limit)


def board_filter(
    playbook: Playbook, key: str, value: str, now: datetime
) -> store.FieldHolds | None:
    """The board's filter `field.<key>=<value>` (several values: comma-separated); None when
    the key names no field or the value can be no value of it."""
    spec = _spec_named(playbook, key)
    forms = _folded_forms(spec, value, now) if spec else []
    return store.FieldHolds(spec.of, spec.key, tuple(forms)) if spec and forms else None


def deals_filter(playbook: Playbook, filters: Mapping[str, Sequence[str]], now: datetime) -> Q:
    """A Deal filter for field key -> accepted values (option keys, labels or values as typed),
    all fields at once (AND), any value of one (OR); for the board. Unknown keys match none.
    `now` (aware) reads dates typed in words."""
    clauses = []
    for key, values in filters.items():
        spec = playbook.field(key)
        forms = [f for v in values for f in _folded_forms(spec, v, now)] if spec else []
        if spec is None or not forms:
            return Q(id__in=[])
        clauses.append(store.deals_where(spec.of, spec.key, forms))
    return Q(*clauses) if clauses else Q()
