"""CSV export of contacts and deals, page by page, through the product's one writer (csvwrite).

People open the file, so it speaks their language: column names, stages, statuses and lost
reasons come from the caller's Labels (the domain has no gettext), times are in the department's
zone with the zone named in the header. Column names are import aliases, so an exported file
imports back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from crm.context import Crm
from crm.csvwrite import Cell, CsvFormat, CsvWriter, Phones
from crm.importer import Progress
from storage.models import Contact, ContactPhone, Deal, Employee

CONTACT_COLUMNS = ("id", "name", "phone", "email", "company", "city", "tags", "source", "owner",
                   "created")
DEAL_COLUMNS = ("id", "title", "name", "phone", "email", "company", "amount", "stage", "status",
                "lost reason", "source", "tags", "owner", "created", "closed")
TIME_COLUMNS = ("created", "closed")


class Labels(Protocol):
    """What people read for a key, in one language."""

    def column(self, key: str) -> str: ...
    def stage(self, key: str) -> str: ...
    def status(self, key: str) -> str: ...
    def reason(self, key: str) -> str: ...


def money(minor: int) -> Decimal:
    """Minor units as roubles with kopecks, a number for the writer."""
    return Decimal(minor).scaleb(-2)


def header(columns: Sequence[str], labels: Labels, zone: str) -> list[Cell]:
    return [
        f"{labels.column(c)} ({zone})" if c in TIME_COLUMNS else labels.column(c) for c in columns
    ]


async def export_csv(
    crm: Crm, what: str, labels: Labels, fmt: CsvFormat, *, bom: bool = True, page: int = 1000,
    progress: Progress | None = None,
) -> AsyncIterator[str]:
    """Contacts or deals as CSV text, page by page, so memory stays flat; `progress` hears
    (rows written, rows in the store when the export began) after each page."""
    zone_name = crm.playbook.working_hours.timezone
    zone = ZoneInfo(zone_name)

    def when(moment: datetime | None) -> str:
        return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}" if moment else ""

    out = CsvWriter(fmt, bom=bom)
    yield out.rows([header(CONTACT_COLUMNS if what == "contacts" else DEAL_COLUMNS, labels,
                           zone_name)])
    names = dict(await Employee.all().values_list("id", "name"))  # type: ignore[arg-type]
    total = await (Contact if what == "contacts" else Deal).all().count() if progress else 0
    last, done = 0, 0
    while True:
        rows: list[list[Cell]] = []
        if what == "contacts":
            contacts = await Contact.filter(id__gt=last).order_by("id").limit(page)
            phones = await _phones([c.id for c in contacts])
            for c in contacts:
                rows.append([
                    c.id, c.name, Phones(phones.get(c.id, [])), c.email, c.company,
                    str(c.custom.get("city", "")), ", ".join(c.tags), c.source,
                    names.get(c.owner_id, ""), when(c.created_at),  # type: ignore[attr-defined]
                ])
            count, last = len(contacts), contacts[-1].id if contacts else last
        else:
            deals = await Deal.filter(id__gt=last).order_by("id").limit(page).select_related(
                "contact"
            )
            phones = await _phones([d.contact.id for d in deals])
            for d in deals:
                c = d.contact
                rows.append([
                    d.id, d.title, c.name, Phones(phones.get(c.id, [])), c.email, c.company,
                    money(d.amount), labels.stage(d.stage), labels.status(d.status),
                    labels.reason(d.lost_reason) if d.lost_reason else "", d.source,
                    ", ".join(d.tags), names.get(d.owner_id, ""),  # type: ignore[attr-defined]
                    when(d.created_at), when(d.closed_at),
                ])
            count, last = len(deals), deals[-1].id if deals else last
        yield out.rows(rows)
        done += count
        if progress and (count or not done):
            # The last page completes the bar, also if rows came or went meanwhile.
            progress(done, max(total, done) if count == page else done)
        if count < page:
            return


async def _phones(contact_ids: list[int]) -> dict[int, list[str]]:
    phones: dict[int, list[str]] = {}
    for contact_id, e164 in await ContactPhone.filter(
        contact_id__in=contact_ids
    ).order_by("id").values_list("contact_id", "e164"):
        phones.setdefault(int(contact_id), []).append(str(e164))  # type: ignore[call-overload]
    return phones
