"""CSV export of contacts and deals, page by page, through the product's one writer (csvwrite).

People open the file, so it speaks their language: column names, stages, statuses and lost
reasons come from the caller's Labels (the domain has no gettext), times are in the department's
zone with the zone named in the header. Column names are import aliases, and custom fields are
titled by their labels and written as shown, so an exported file imports back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from config.field_spec import FieldSpec
from crm.context import Crm
from crm.csvwrite import Cell, CsvFormat, CsvWriter, Phones
from crm.fields import shown
from crm.importer import Progress
from storage.fields import values_of
from storage.models import Contact, ContactPhone, Deal, Employee

# "city" is the contact's custom field of that key (import fills it from the city column).
CONTACT_COLUMNS = ("id", "name", "phone", "email", "company", "city", "tags", "source", "owner",
                   "created")
DEAL_COLUMNS = ("id", "title", "name", "phone", "email", "company", "amount", "stage", "status",
                "lost reason", "source", "tags", "owner", "created", "closed")
TIME_COLUMNS = ("created", "closed")


class Labels(Protocol):
    """What people read for a key, in one language."""

    @property
    def lang(self) -> str: ...

    def column(self, key: str) -> str: ...
    def stage(self, key: str) -> str: ...
    def status(self, key: str) -> str: ...
    def reason(self, key: str) -> str: ...


def money(minor: int) -> Decimal:
    """Minor units as roubles with kopecks, a number for the writer."""
    return Decimal(minor).scaleb(-2)


def header(
    columns: Sequence[str], labels: Labels, zone: str, fields: Sequence[FieldSpec] = ()
) -> list[Cell]:
    titles = [f"{labels.column(c)} ({zone})" if c in TIME_COLUMNS else labels.column(c)
              for c in columns]
    return [*titles, *(f.label.get(labels.lang) for f in fields)]


def _field_cells(
    specs: Sequence[FieldSpec], held: dict[str, list[str]], lang: str
) -> list[Cell]:
    cells: list[Cell] = []
    for spec in specs:
        values = held.get(spec.key, [])
        if not values:
            cells.append(None)
        elif spec.type == "money":
            cells.append(money(int(values[0])))
        elif spec.type == "number":
            cells.append(Decimal(values[0]))
        else:
            cells.append(shown(spec, values, lang))
    return cells


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
    of_contact = [f for f in crm.playbook.fields if f.of == "contact"]
    of_deal = [f for f in crm.playbook.fields if f.of == "deal"]
    if what == "contacts":
        of_contact = [f for f in of_contact if f.key != "city"]  # in its own column
        yield out.rows([header(CONTACT_COLUMNS, labels, zone_name, of_contact)])
    else:
        yield out.rows([header(DEAL_COLUMNS, labels, zone_name, of_deal + of_contact)])
    names = dict(await Employee.all().values_list("id", "name"))  # type: ignore[arg-type]
    total = await (Contact if what == "contacts" else Deal).all().count() if progress else 0
    last, done = 0, 0
    while True:
        rows: list[list[Cell]] = []
        if what == "contacts":
            contacts = await Contact.filter(id__gt=last).order_by("id").limit(page)
            phones = await _phones([c.id for c in contacts])
            held = await values_of("contact", [c.id for c in contacts])
            for c in contacts:
                rows.append([
                    c.id, c.name, Phones(phones.get(c.id, [])), c.email, c.company,
                    ", ".join(held.get(c.id, {}).get("city", [])), ", ".join(c.tags), c.source,
                    names.get(c.owner_id, ""), when(c.created_at),  # type: ignore[attr-defined]
                    *_field_cells(of_contact, held.get(c.id, {}), labels.lang),
                ])
            count, last = len(contacts), contacts[-1].id if contacts else last
        else:
            deals = await Deal.filter(id__gt=last).order_by("id").limit(page).select_related(
                "contact"
            )
            phones = await _phones([d.contact.id for d in deals])
            deal_held = await values_of("deal", [d.id for d in deals])
            contact_held = await values_of("contact", [d.contact.id for d in deals])
            for d in deals:
                c = d.contact
                rows.append([
                    d.id, d.title, c.name, Phones(phones.get(c.id, [])), c.email, c.company,
                    money(d.amount), labels.stage(d.stage), labels.status(d.status),
                    labels.reason(d.lost_reason) if d.lost_reason else "", d.source,
                    ", ".join(d.tags), names.get(d.owner_id, ""),  # type: ignore[attr-defined]
                    when(d.created_at), when(d.closed_at),
                    *_field_cells(of_deal, deal_held.get(d.id, {}), labels.lang),
                    *_field_cells(of_contact, contact_held.get(c.id, {}), labels.lang),
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
