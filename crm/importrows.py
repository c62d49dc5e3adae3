"""An import file read into rows (plain functions, run in a worker thread by crm.importer).

Columns are found by header aliases, Russian or English, and the playbook's custom fields by
their key or label (a field keyed like a column, "city", takes that column's value); phones in
any local form, several in one cell; a row that cannot be used becomes a BadRow with its line
number and reason, a value left out of a usable row (an e-mail that is not one, one phone of
several that is not a phone, a field value not of its type) a BadField. A cell neutralised by
our own export ('=…) reads back as it was.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from config.field_spec import FieldSpec
from config.playbook import Playbook
from crm.cities import zone_for_city
from crm.csvread import UnreadableFile, decode, records, sniff_delimiter
from crm.csvwrite import unneutralise
from crm.deals import normalize_email
from crm.fields import Invalid, parse
from crm.phones import normalize_phone
from storage.fields import Stored

FIELD = "field:"  # a column holding a custom field: FIELD + its key

# Header aliases, compared after _header_key(): lower case, ё→е, punctuation to spaces.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "client", "contact", "имя", "фио", "клиент", "контакт"),
    "phone": ("phone", "phones", "mobile", "tel", "телефон", "телефоны", "тел", "мобильный",
              "номер телефона"),
    "email": ("email", "e mail", "mail", "почта", "эл почта", "электронная почта"),
    "company": ("company", "organization", "компания", "организация"),
    "city": ("city", "region", "город", "регион"),
    "tags": ("tags", "tag", "теги", "тег", "метки"),
    "source": ("source", "channel", "источник", "канал"),
    "amount": ("amount", "sum", "budget", "сумма", "бюджет"),
    "stage": ("stage", "этап", "стадия"),
    "title": ("title", "deal", "deal title", "сделка", "название", "название сделки"),
}
_ALIASES = {alias: column for column, names in COLUMNS.items() for alias in names}
_SPLIT_PHONES = re.compile(r"[,;/\n]|\s{2,}")
_SPLIT_TAGS = re.compile(r"[,;|]")


@dataclass(frozen=True)
class BadRow:
    """A row left out."""

    line: int
    reason: str


@dataclass(frozen=True)
class BadField:
    """A value left out of a row that went in."""

    line: int
    reason: str


# Custom field values by key, as stored.
Values = dict[str, tuple[Stored, ...]]


@dataclass(frozen=True)
class DealDraft:
    title: str
    amount: int
    stage: str
    fields: Values = field(default_factory=dict)


@dataclass(frozen=True)
class ImportRow:
    line: int
    name: str
    phones: tuple[str, ...]
    email: str | None
    company: str
    city: str
    zone: str | None  # the city's, when it lies in one zone
    tags: tuple[str, ...]
    source: str
    deal: DealDraft | None
    fields: Values = field(default_factory=dict)  # the contact's


@dataclass
class ParsedFile:
    rows: list[ImportRow]
    bad: list[BadRow]
    ignored_columns: list[str]
    bad_fields: list[BadField] = field(default_factory=list)


def _header_key(raw: str) -> str:
    text = raw.strip().strip('"').lower().replace("ё", "е")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _amount(raw: str) -> int | None:
    text = re.sub(r"[\s\u00a0₽$€]|руб\.?|rub", "", raw.lower())
    if "," in text and "." in text:  # "1,500.00" or "1.500,00": the last one is the decimal mark
        text = text.replace("," if text.rfind(",") < text.rfind(".") else ".", "")
    text = text.replace(",", ".")
    if not text:
        return 0
    try:
        return int((Decimal(text) * 100).to_integral_value())
    except InvalidOperation:
        return None


def _stage_names(playbook: Playbook) -> dict[str, str]:
    names: dict[str, str] = {}
    for stage in playbook.stages:
        for name in (stage.key, stage.name.ru, stage.name.en):
            names[_header_key(name)] = stage.key
    return names


def _field_columns(playbook: Playbook) -> dict[str, str]:
    found: dict[str, str] = {}
    for spec in playbook.fields:
        for name in (spec.key, spec.label.ru, spec.label.en):
            found.setdefault(_header_key(name), FIELD + spec.key)
    return found


def parse_csv(data: bytes, playbook: Playbook, now: datetime | None = None) -> ParsedFile:
    """`now` (aware, the department's zone) reads dates typed in words ("завтра"); without
    it a date field takes full dates only."""
    lines = decode(data).splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise UnreadableFile("the file is empty")
    delimiter = sniff_delimiter(lines[header_at])
    header = next(csv.reader([lines[header_at]], delimiter=delimiter))
    by_field = _field_columns(playbook)
    columns = [_ALIASES.get(_header_key(h)) or by_field.get(_header_key(h)) for h in header]
    if "phone" not in columns and "email" not in columns:
        raise UnreadableFile("no phone or email column in the header: " + ", ".join(header))
    ignored = [h for h, c in zip(header, columns, strict=True) if c is None and h.strip()]
    stages = _stage_names(playbook)
    parsed = ParsedFile([], [], ignored)
    body = lines[header_at + 1 :]
    for number, text in records(body):
        line = header_at + 1 + number
        if text is None:
            parsed.bad.append(BadRow(line, "broken quotes"))
            continue
        if not text.strip(delimiter + " \t"):
            continue
        try:
            cells = next(csv.reader([text], delimiter=delimiter, strict=True))
        except csv.Error as exc:
            parsed.bad.append(BadRow(line, f"unparseable: {exc}"))
            continue
        row = _row(line, columns, [unneutralise(c) for c in cells], stages, parsed.bad_fields)
        if isinstance(row, BadRow):
            parsed.bad.append(row)
        else:
            parsed.rows.append(_with_fields(row, playbook, columns, cells, now, parsed.bad_fields))
    return parsed


def _with_fields(
    row: ImportRow, playbook: Playbook, columns: list[str | None], cells: list[str],
    now: datetime | None, bad_fields: list[BadField],
) -> ImportRow:
    """The row with its custom field values; a bad one is left out with line, field and why."""
    raw: dict[str, list[str]] = {}
    for column, cell in zip(columns, cells, strict=False):
        if column and cell.strip():
            key = column.removeprefix(FIELD)
            if column.startswith(FIELD) or playbook.field(key):
                raw.setdefault(key, []).append(unneutralise(cell).strip())
    of: dict[str, Values] = {"contact": {}, "deal": {}}
    for key, texts in raw.items():
        spec = playbook.field(key)
        if spec is None:
            continue
        values = _field_values(spec, texts, now)
        if isinstance(values, Invalid):
            bad_fields.append(BadField(row.line, f"{spec.key}: {_problem(spec, values)}"))
        elif values:
            of[spec.of][spec.key] = values
    if not of["contact"] and not of["deal"]:
        return row
    deal = row.deal
    if of["deal"]:
        # Deal fields make a deal of the row, titled like a row without a title.
        deal = DealDraft(deal.title, deal.amount, deal.stage, of["deal"]) if deal else DealDraft(
            row.name or row.company or (row.phones[0] if row.phones else row.email or ""), 0,
            "", of["deal"])
    return dataclasses.replace(row, fields=of["contact"], deal=deal)


def _field_values(
    spec: FieldSpec, texts: list[str], now: datetime | None
) -> tuple[Stored, ...] | Invalid:
    # Several columns of one field (key and label both) or a multi-choice's list: all of them.
    text = ", ".join(texts) if spec.type == "multi" else texts[0]
    values = parse(spec, text, now)
    return values if isinstance(values, Invalid) else tuple(values)


def _problem(spec: FieldSpec, bad: Invalid) -> str:
    """What is wrong with a value, for the import's report (the domain has no gettext)."""
    expected = {
        "number": "a number", "money": "an amount like 1500 or 1 500,50",
        "date": "a date like 25.12.2026", "phone": "a phone number", "email": "an e-mail",
        "url": "a link like https://example.ru", "text": "at most 1000 characters",
    }.get(spec.type, "one of " + ", ".join(spec.options))
    return f"{bad.text!r} is not {expected}"


def _row(
    line: int, columns: list[str | None], cells: list[str], stages: dict[str, str],
    bad_fields: list[BadField],
) -> ImportRow | BadRow:
    values: dict[str, list[str]] = {}
    for column, cell in zip(columns, cells, strict=False):
        if column and cell.strip():
            values.setdefault(column, []).append(cell.strip())

    def one(column: str) -> str:
        return " ".join(values.get(column, []))

    raw_phones = [p for cell in values.get("phone", []) for p in _SPLIT_PHONES.split(cell)]
    raw_phones = [p.strip() for p in raw_phones if p.strip()]
    normalized = [(raw, normalize_phone(raw)) for raw in raw_phones]
    phones = tuple(dict.fromkeys(e164 for _raw, e164 in normalized if e164))
    email = normalize_email(one("email")) if "email" in values else None
    if not phones and not email:
        if raw_phones:
            return BadRow(line, f"invalid phone {raw_phones[0]!r}")
        if "email" in values:
            return BadRow(line, f"invalid email {one('email')!r}")
        return BadRow(line, "no phone and no email")
    problems = [f"invalid phone {raw!r}" for raw, e164 in normalized if not e164]
    if "email" in values and not email:
        problems.append(f"invalid email {one('email')!r}")
    name = one("name")
    deal = None
    if any(values.get(c) for c in ("title", "amount", "stage")):
        amount = _amount(one("amount"))
        if amount is None:
            return BadRow(line, f"invalid amount {one('amount')!r}")
        stage = stages.get(_header_key(one("stage"))) if one("stage") else None
        if one("stage") and stage is None:
            return BadRow(line, f"unknown stage {one('stage')!r}")
        # Untitled deals are named like quick_add names them: after the client.
        title = one("title") or name or one("company") or (phones[0] if phones else email or "")
        deal = DealDraft(title, amount, stage or "")
    tags = tuple(
        dict.fromkeys(t.strip() for cell in values.get("tags", []) for t in
                      _SPLIT_TAGS.split(cell) if t.strip())
    )
    bad_fields += [BadField(line, problem) for problem in problems]
    return ImportRow(line, name, phones, email, one("company"), one("city"),
                     zone_for_city(one("city")), tags, one("source"), deal)
