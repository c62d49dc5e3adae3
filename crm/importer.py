"""CSV import of contacts (with optional deal fields) and CSV export of contacts and deals.

Import reads files as people really have them: UTF-8 with or without a BOM (or Windows-1251),
`,` `;` or tab separated (the header line decides), Russian or English column names, phones in
any local form and several in one cell. A row that cannot be used is reported with its line
number and reason, and every other row still goes in. Rows are written in chunks, each chunk in
one transaction with bulk inserts, against sets of the phones and emails already stored.

Export writes `;`-separated UTF-8 with a BOM: what Excel in a Russian locale opens in columns
(its list separator is `;` because `,` is the decimal mark); amounts use a decimal comma.
"""

from __future__ import annotations

import asyncio
import csv
import enum
import io
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tortoise.transactions import in_transaction

from config.playbook import Playbook
from crm.context import Crm
from crm.deals import normalize_email
from crm.engine import TERMINAL_STATUS
from crm.phones import normalize_phone, zone_for_phone
from crm.tags import index_contact_tags, set_contact_tags
from storage.models import (
    Contact,
    ContactPhone,
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Task,
    TimelineEvent,
)
from storage.queries import reserve_ids

CHUNK = 2000
SOURCE = "import"
EXPORT_DELIMITER = ";"
# A quoted field may span lines (an address typed with Enter); a quote still open after this
# many lines is a broken quote, and only its first line is lost.
MAX_RECORD_LINES = 5

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


class Duplicates(enum.StrEnum):
    MERGE = "merge"  # fill the existing contact's empty fields, add phones and tags
    SKIP = "skip"


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class DealDraft:
    title: str
    amount: int
    stage: str


@dataclass(frozen=True)
class ImportRow:
    line: int
    name: str
    phones: tuple[str, ...]
    email: str | None
    company: str
    city: str
    tags: tuple[str, ...]
    source: str
    deal: DealDraft | None


@dataclass
class ParsedFile:
    rows: list[ImportRow]
    bad: list[BadRow]
    ignored_columns: list[str]


@dataclass
class ImportReport:
    imported: int = 0
    merged: int = 0
    skipped: int = 0
    deals: int = 0
    bad: list[BadRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


Progress = Callable[[int, int], None]  # (rows done, rows total)


class UnreadableFile(ValueError):
    """The file as a whole is unusable (no header we understand, empty, not text)."""


# ---- parsing: plain functions, run in a worker thread ------------------------------------


def _header_key(raw: str) -> str:
    text = raw.strip().strip('"').lower().replace("ё", "е")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251")  # Excel's "CSV" in a Russian Windows


def sniff_delimiter(header: str) -> str:
    """The separator the header line uses most, outside quotes."""
    outside = re.sub(r'"[^"]*"', "", header)
    return max((";", ",", "\t"), key=outside.count)


def _records(lines: list[str]) -> Iterator[tuple[int, str | None]]:
    """(first line number, the record's text) per logical record; None for a broken quote."""
    index = 0
    while index < len(lines):
        start = index
        text = lines[index]
        index += 1
        while text.count('"') % 2 and index < len(lines) and index - start < MAX_RECORD_LINES:
            text += "\n" + lines[index]
            index += 1
        if text.count('"') % 2:
            index = start + 1
            yield start + 1, None
        else:
            yield start + 1, text


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


def parse_csv(data: bytes, playbook: Playbook) -> ParsedFile:
    lines = decode(data).splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise UnreadableFile("the file is empty")
    delimiter = sniff_delimiter(lines[header_at])
    header = next(csv.reader([lines[header_at]], delimiter=delimiter))
    columns = [_ALIASES.get(_header_key(h)) for h in header]
    if "phone" not in columns and "email" not in columns:
        raise UnreadableFile("no phone or email column in the header: " + ", ".join(header))
    ignored = [h for h, c in zip(header, columns, strict=True) if c is None and h.strip()]
    stages = _stage_names(playbook)
    parsed = ParsedFile([], [], ignored)
    body = lines[header_at + 1 :]
    for number, text in _records(body):
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
        row = _row(line, columns, cells, stages)
        (parsed.bad if isinstance(row, BadRow) else parsed.rows).append(row)  # type: ignore[arg-type]
    return parsed


def _row(
    line: int, columns: list[str | None], cells: list[str], stages: dict[str, str]
) -> ImportRow | BadRow:
    values: dict[str, list[str]] = {}
    for column, cell in zip(columns, cells, strict=False):
        if column and cell.strip():
            values.setdefault(column, []).append(cell.strip())

    def one(column: str) -> str:
        return " ".join(values.get(column, []))

    raw_phones = [p for cell in values.get("phone", []) for p in _SPLIT_PHONES.split(cell)]
    raw_phones = [p.strip() for p in raw_phones if p.strip()]
    phones = tuple(dict.fromkeys(p for p in map(normalize_phone, raw_phones) if p))
    email = normalize_email(one("email")) if "email" in values else None
    if not phones and not email:
        if raw_phones:
            return BadRow(line, f"invalid phone {raw_phones[0]!r}")
        if "email" in values:
            return BadRow(line, f"invalid email {one('email')!r}")
        return BadRow(line, "no phone and no email")
    deal = None
    if any(values.get(c) for c in ("title", "amount", "stage")):
        amount = _amount(one("amount"))
        if amount is None:
            return BadRow(line, f"invalid amount {one('amount')!r}")
        stage = stages.get(_header_key(one("stage"))) if one("stage") else None
        if one("stage") and stage is None:
            return BadRow(line, f"unknown stage {one('stage')!r}")
        deal = DealDraft(one("title"), amount, stage or "")
    tags = tuple(
        dict.fromkeys(t.strip() for cell in values.get("tags", []) for t in
                      _SPLIT_TAGS.split(cell) if t.strip())
    )
    return ImportRow(line, one("name"), phones, email, one("company"), one("city"), tags,
                     one("source"), deal)


# ---- writing: chunked bulk inserts ----------------------------------------------------------


@dataclass
class _Pending:
    """A contact made by this import; merges into it happen in memory until it is written."""

    row: ImportRow
    phones: list[str]
    tags: list[str]
    id: int = 0


@dataclass
class _Chunk:
    new: list[_Pending] = field(default_factory=list)
    deals: list[tuple[_Pending | int, DealDraft]] = field(default_factory=list)
    phones_for_stored: list[tuple[int, str]] = field(default_factory=list)
    fill_stored: dict[int, ImportRow] = field(default_factory=dict)


async def import_csv(
    crm: Crm, path: Path, *, duplicates: Duplicates = Duplicates.MERGE,
    owner: Employee | None = None, team: str = "main", progress: Progress | None = None,
) -> ImportReport:
    data = await asyncio.to_thread(path.read_bytes)
    parsed = await asyncio.to_thread(parse_csv, data, crm.playbook)
    return await import_rows(crm, parsed, duplicates=duplicates, owner=owner, team=team,
                             progress=progress)


async def import_rows(
    crm: Crm, parsed: ParsedFile, *, duplicates: Duplicates = Duplicates.MERGE,
    owner: Employee | None = None, team: str = "main", progress: Progress | None = None,
) -> ImportReport:
    report = ImportReport(bad=list(parsed.bad), ignored_columns=parsed.ignored_columns)
    # Who is already known, by phone and by email: a stored contact id or a pending contact.
    by_phone: dict[str, _Pending | int] = dict(
        await ContactPhone.all().values_list("e164", "contact_id")  # type: ignore[arg-type]
    )
    by_email: dict[str, _Pending | int] = dict(
        await Contact.filter(email__not_isnull=True).values_list("email", "id")  # type: ignore[arg-type]
    )
    deal_titles: set[tuple[int, str]] = set()
    total = len(parsed.rows)
    for start in range(0, total, CHUNK):
        chunk = _Chunk()
        for row in parsed.rows[start : start + CHUNK]:
            match = next(
                (by_phone[p] for p in row.phones if p in by_phone), None
            ) or (by_email.get(row.email) if row.email else None)
            if isinstance(match, _Pending) and match.id:
                match = match.id  # written in an earlier chunk: merge into the stored row
            if match is not None and duplicates == Duplicates.SKIP:
                report.skipped += 1
                continue
            if match is None:
                match = _Pending(row, list(row.phones), list(row.tags))
                chunk.new.append(match)
                report.imported += 1
            else:
                report.merged += 1
                _merge(chunk, match, row, by_phone)
            for phone in row.phones:
                by_phone.setdefault(phone, match)
            if row.email:
                by_email.setdefault(row.email, match)
            if row.deal:
                chunk.deals.append((match, row.deal))
        report.deals += await _write(crm, chunk, owner, team, deal_titles)
        if progress:
            progress(min(start + CHUNK, total), total)
    return report


def _merge(
    chunk: _Chunk, into: _Pending | int, row: ImportRow, by_phone: dict[str, _Pending | int]
) -> None:
    new_phones = [p for p in row.phones if p not in by_phone]
    if isinstance(into, _Pending):
        into.phones += new_phones
        into.tags += [t for t in row.tags if t not in into.tags]
        return
    chunk.phones_for_stored += [(into, p) for p in new_phones]
    chunk.fill_stored.setdefault(into, row)


async def _write(
    crm: Crm, chunk: _Chunk, owner: Employee | None, team: str,
    deal_titles: set[tuple[int, str]],
) -> int:
    now = crm.now()
    async with in_transaction():
        ids = await reserve_ids(Contact._meta.db_table, len(chunk.new))
        contacts, phones = [], []
        for pending, contact_id in zip(chunk.new, ids, strict=True):
            pending.id = contact_id
            row = pending.row
            zone = next((z for z in map(zone_for_phone, pending.phones) if z), None)
            contacts.append(Contact(
                id=contact_id, name=row.name, company=row.company, email=row.email, tz=zone,
                source=row.source or SOURCE, tags=pending.tags,
                custom={"city": row.city} if row.city else {},
                owner_id=owner.id if owner else None, created_at=now,
            ))
            phones += [ContactPhone(contact_id=contact_id, e164=p) for p in pending.phones]
        phones += [ContactPhone(contact_id=c, e164=p) for c, p in chunk.phones_for_stored]
        await Contact.bulk_create(contacts)
        await index_contact_tags({c.id: c.tags for c in contacts})
        await ContactPhone.bulk_create(phones)
        for contact_id, row in chunk.fill_stored.items():
            await _fill_stored(contact_id, row)
        return await _write_deals(crm, chunk, owner, team, deal_titles)


async def _fill_stored(contact_id: int, row: ImportRow) -> None:
    """Merge a duplicate row into a stored contact: empty fields filled, tags added."""
    contact = await Contact.get(id=contact_id)
    changed = []
    for name in ("name", "company"):
        if not getattr(contact, name) and getattr(row, name):
            setattr(contact, name, getattr(row, name))
            changed.append(name)
    if contact.email is None and row.email:
        contact.email = row.email
        changed.append("email")
    if changed:
        await contact.save(update_fields=changed)
    tags = contact.tags + [t for t in row.tags if t not in contact.tags]
    if tags != contact.tags:
        await set_contact_tags(contact_id, tags)


async def _write_deals(
    crm: Crm, chunk: _Chunk, owner: Employee | None, team: str,
    deal_titles: set[tuple[int, str]],
) -> int:
    """Deals of the chunk, each once per contact and title (a re-import adds none)."""
    stored = {c for c, _ in chunk.deals if isinstance(c, int)}
    if stored:
        for contact_id, title in await Deal.filter(contact_id__in=stored).values_list(
            "contact_id", "title"
        ):
            deal_titles.add((int(contact_id), str(title).casefold()))  # type: ignore[call-overload]
    wanted: list[tuple[int, DealDraft]] = []
    for contact, draft in chunk.deals:
        contact_id = contact.id if isinstance(contact, _Pending) else contact
        key = (contact_id, draft.title.casefold())
        if key not in deal_titles:
            deal_titles.add(key)
            wanted.append((contact_id, draft))
    ids = await reserve_ids(Deal._meta.db_table, len(wanted))
    now = crm.now()
    owner_id = owner.id if owner else None
    team = owner.team if owner else team
    deals, tasks, events = [], [], []
    for deal_id, (contact_id, draft) in zip(ids, wanted, strict=True):
        stage = crm.playbook.stage(draft.stage or crm.playbook.initial_stage.key)
        status = TERMINAL_STATUS[stage.terminal] if stage.terminal else DealStatus.OPEN
        deals.append(Deal(
            id=deal_id, contact_id=contact_id, title=draft.title, amount=draft.amount,
            stage=stage.key, status=status, source=SOURCE, owner_id=owner_id, team=team,
            created_at=now, stage_changed_at=now, closed_at=now if stage.terminal else None,
        ))
        if status == DealStatus.OPEN:
            # The one open task of an open deal; unassigned ones wait in the team queue.
            tasks.append(Task(deal_id=deal_id, kind="call", due_at=now, assignee_id=owner_id,
                              team=team, created_at=now))
        events.append(TimelineEvent(deal_id=deal_id, kind=EventKind.CREATED, at=now,
                                    data={"stage": stage.key, "source": SOURCE}))
    await Deal.bulk_create(deals)
    await Task.bulk_create(tasks)
    await TimelineEvent.bulk_create(events)
    return len(deals)


# ---- export ---------------------------------------------------------------------------------

CONTACT_HEADER = ["id", "name", "phone", "email", "company", "city", "tags", "source",
                  "owner", "created"]
DEAL_HEADER = ["id", "title", "name", "phone", "email", "company", "amount", "stage", "status",
               "lost reason", "source", "tags", "owner", "created", "closed"]


def _money(minor: int) -> str:
    return f"{minor // 100}" if minor % 100 == 0 else f"{minor / 100:.2f}".replace(".", ",")


class _Lines:
    """csv.writer target that hands back what was written since the last take()."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, delimiter=EXPORT_DELIMITER, lineterminator="\r\n")

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


async def export_csv(what: str, page: int = 1000) -> AsyncIterator[str]:
    """Contacts or deals as CSV text, page by page (the BOM first), so memory stays flat."""
    out = _Lines()
    out.writer.writerow(CONTACT_HEADER if what == "contacts" else DEAL_HEADER)
    yield "\ufeff" + out.take()
    names = dict(await Employee.all().values_list("id", "name"))  # type: ignore[arg-type]
    last = 0
    while True:
        if what == "contacts":
            batch = await Contact.filter(id__gt=last).order_by("id").limit(page)
            contact_ids = [c.id for c in batch]
        else:
            deals = await Deal.filter(id__gt=last).order_by("id").limit(page).select_related(
                "contact"
            )
            contact_ids = [d.contact.id for d in deals]
        phones: dict[int, list[str]] = {}
        for contact_id, e164 in await ContactPhone.filter(
            contact_id__in=contact_ids
        ).order_by("id").values_list("contact_id", "e164"):
            phones.setdefault(int(contact_id), []).append(str(e164))  # type: ignore[call-overload]
        if what == "contacts":
            for c in batch:
                out.writer.writerow([
                    c.id, c.name, ", ".join(phones.get(c.id, [])), c.email or "", c.company,
                    c.custom.get("city", ""), ", ".join(c.tags), c.source,
                    names.get(c.owner_id, ""), f"{c.created_at:%Y-%m-%d %H:%M}",  # type: ignore[attr-defined]
                ])
            last = batch[-1].id if batch else last
            done = len(batch) < page
        else:
            for d in deals:
                c = d.contact
                out.writer.writerow([
                    d.id, d.title, c.name, ", ".join(phones.get(c.id, [])), c.email or "",
                    c.company, _money(d.amount), d.stage, d.status, d.lost_reason or "",
                    d.source, ", ".join(d.tags), names.get(d.owner_id, ""),  # type: ignore[attr-defined]
                    f"{d.created_at:%Y-%m-%d %H:%M}",
                    f"{d.closed_at:%Y-%m-%d %H:%M}" if d.closed_at else "",
                ])
            last = deals[-1].id if deals else last
            done = len(deals) < page
        yield out.take()
        if done:
            return
