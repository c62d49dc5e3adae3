"""CSV import of contacts, with optional deal fields: parsed rows (crm.importrows) into the store.

Every usable row goes in; the rows left out and the values left out are in the report. Rows are
written in chunks, each chunk in one transaction with bulk inserts, against sets of the phones
and emails already stored.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tortoise.transactions import in_transaction

from crm.context import Crm
from crm.deals import add_address
from crm.engine import TERMINAL_STATUS
from crm.importrows import BadField, BadRow, DealDraft, ImportRow, ParsedFile, parse_csv
from crm.phonebook import add_phones
from crm.phones import zone_for_phone
from crm.staff import StaffError, find_employee
from crm.tags import index_contact_tags, set_contact_tags
from storage import fields as field_store
from storage.claims import reserve_ids
from storage.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Task,
    TimelineEvent,
)

CHUNK = 2000
SOURCE = "import"


class Duplicates(enum.StrEnum):
    MERGE = "merge"  # fill the existing contact's empty fields, add phones and tags
    SKIP = "skip"


@dataclass
class ImportReport:
    imported: int = 0
    merged: int = 0
    skipped: int = 0
    deals: int = 0
    bad: list[BadRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    bad_fields: list[BadField] = field(default_factory=list)


Progress = Callable[[int, int], None]  # (rows done, rows total)


class UnknownAssignee(ValueError):
    """The owner or team asked to take the imported deals is not there."""


async def assignee(owner: str | None, team: str | None) -> tuple[Employee | None, str]:
    """Who takes the imported deals: an active employee (id, @username or name) in their team,
    or a team's queue (a team some active employee is in); nobody given, the main queue."""
    if owner:
        try:
            employee = await find_employee(owner, active_only=True)
        except StaffError as unknown:
            raise UnknownAssignee(f"--owner {unknown}") from None
        if team and team != employee.team:
            raise UnknownAssignee(f"--owner {owner!r} is in team {employee.team!r}, not {team!r}")
        return employee, employee.team
    if team and not await Employee.filter(active=True, team=team).exists():
        raise UnknownAssignee(f"--team {team!r}: no active employee is in it")
    return None, team or "main"


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
    now = crm.now().astimezone(crm.playbook.working_hours.zone)
    parsed = await asyncio.to_thread(parse_csv, data, crm.playbook, now)
    return await import_rows(crm, parsed, duplicates=duplicates, owner=owner, team=team,
                             progress=progress)


async def import_rows(
    crm: Crm, parsed: ParsedFile, *, duplicates: Duplicates = Duplicates.MERGE,
    owner: Employee | None = None, team: str = "main", progress: Progress | None = None,
) -> ImportReport:
    report = ImportReport(bad=list(parsed.bad), ignored_columns=parsed.ignored_columns,
                          bad_fields=list(parsed.bad_fields))
    # Who is already known, by phone and by email: a stored contact id or a pending contact.
    by_phone: dict[str, _Pending | int] = dict(
        await ContactPhone.all().values_list("e164", "contact_id")  # type: ignore[arg-type]
    )
    by_email: dict[str, _Pending | int] = dict(
        await Contact.filter(email__not_isnull=True).values_list("email", "id")  # type: ignore[arg-type]
    )
    for address, contact_id in await ContactEmail.all().values_list("address", "contact_id"):
        by_email.setdefault(str(address), int(contact_id))  # type: ignore[call-overload]
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
        contacts: list[Contact] = []
        phones: list[tuple[int, str]] = []
        for pending, contact_id in zip(chunk.new, ids, strict=True):
            pending.id = contact_id
            row = pending.row
            # The city a person typed beats the phone: a Moscow number is often a virtual one
            # of a client elsewhere.
            zone = row.zone or next((z for z in map(zone_for_phone, pending.phones) if z), None)
            contacts.append(Contact(
                id=contact_id, name=row.name, company=row.company, email=row.email, tz=zone,
                source=row.source or SOURCE, tags=pending.tags,
                owner_id=owner.id if owner else None, created_at=now,
            ))
            phones += [(contact_id, p) for p in pending.phones]
        phones += chunk.phones_for_stored
        await Contact.bulk_create(contacts)
        await index_contact_tags({c.id: c.tags for c in contacts})
        await field_store.insert_many("contact", {p.id: p.row.fields for p in chunk.new})
        await add_phones(phones)
        for contact_id, row in chunk.fill_stored.items():
            await _fill_stored(contact_id, row)
        return await _write_deals(crm, chunk, owner, team, deal_titles)


async def _fill_stored(contact_id: int, row: ImportRow) -> None:
    """Merge a duplicate row into a stored contact: empty fields (custom ones too) filled, tags
    added."""
    contact = await Contact.get(id=contact_id)
    changed = []
    for name in ("name", "company"):
        if not getattr(contact, name) and getattr(row, name):
            setattr(contact, name, getattr(row, name))
            changed.append(name)
    if contact.email is None and row.email:
        contact.email = row.email
        changed.append("email")
    elif row.email and row.email != contact.email:
        await add_address(contact_id, row.email)  # another address of his: his letters too
    if contact.tz is None and row.zone:
        contact.tz = row.zone
        changed.append("tz")
    if changed:
        await contact.save(update_fields=changed)
    held = (await field_store.values_of("contact", [contact_id])).get(contact_id, {})
    await field_store.insert_many(
        "contact", {contact_id: {k: v for k, v in row.fields.items() if k not in held}}
    )
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
    await field_store.insert_many(
        "deal", {d: draft.fields for d, (_, draft) in zip(ids, wanted, strict=True)}
    )
    await Task.bulk_create(tasks)
    await TimelineEvent.bulk_create(events)
    return len(deals)
