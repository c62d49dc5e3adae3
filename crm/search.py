"""/find: deals whose client matches a name, a phone, a tag or a custom field's value
(`city:Казань`, crm.fields), among those the viewer may act on."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from tortoise.expressions import Q
from tortoise.queryset import ValuesListQuery

from crm import fields
from crm.context import Crm
from crm.permissions import can_act_on, scope_of
from crm.phonebook import part_range
from crm.phones import normalize_phone
from crm.tags import fold
from storage.db import dialect, reading_connection
from storage.models import Contact, ContactPhone, Deal, DealStatus, Employee, PhonePart

_CANDIDATES = 200  # contacts or tagged deals looked at per query; a search is for a few hits
# Contacts by a part of a number: more, since a rep's scope may leave few of them.
_PHONE_CANDIDATES = 1000

# The tags' own index (crm.tags keeps it): deals tagged so themselves or through their contact.
# Each side keeps only its newest candidates, so a common tag sorts 200 ids a side, not all.
_TAGGED = """SELECT id FROM (
    SELECT id FROM (SELECT deal_id AS id FROM deal_tag WHERE tag = {0}
                    ORDER BY deal_id DESC LIMIT {1}) AS own
    UNION
    SELECT id FROM (SELECT d.id FROM contact_tag t JOIN deal d ON d.contact_id = t.contact_id
                    WHERE t.tag = {0} ORDER BY d.id DESC LIMIT {1}) AS by_contact
) AS tagged ORDER BY id DESC LIMIT {1}"""
_PLACEHOLDERS = {"sqlite": ("?1", "?2"), "postgres": ("$1", "$2")}


def _scope(viewer: Employee) -> Q:
    """crm.permissions' scope of the viewer as a filter of deals (none for who may see none)."""
    scope = scope_of(viewer)
    if scope is None:
        return Q(id__in=[])
    found = Q()
    if scope.owner_id is not None:
        found &= Q(owner_id=scope.owner_id)
    if scope.team is not None:
        found &= Q(team=scope.team)
    return found


async def _tagged_deal_ids(tag: str) -> list[int]:
    conn = reading_connection()
    sql = _TAGGED.format(*_PLACEHOLDERS[dialect(conn)])
    rows = await conn.execute_query_dict(sql, [tag, _CANDIDATES])
    return [int(r["id"]) for r in rows]


def phone_part_contacts(lowest: str, above: str | None) -> ValuesListQuery[Literal[False]]:
    """Contacts with a number part in [lowest, above), newest first: a range of the phone_part
    index (crm.phonebook). A part shared by thousands of numbers ("+7 916") keeps the newest
    _PHONE_CANDIDATES of them, as tags keep their newest candidates."""
    parts = PhonePart.filter(part__gte=lowest)
    if above is not None:
        parts = parts.filter(part__lt=above)
    return (
        parts.using_db(reading_connection())
        .distinct()
        .order_by("-contact_id")
        .limit(_PHONE_CANDIDATES)
        .values_list("contact_id", flat=True)
    )


async def _deals_by_phone_part(
    lowest: str, above: str | None, viewer: Employee, limit: int
) -> list[int]:
    """The viewer's newest deals of the contacts phone_part_contacts finds. Their deals are
    read _CANDIDATES contacts at a time: given a thousand ids at once, PostgreSQL guesses that
    reading every deal is cheaper than a thousand index lookups, and it is not."""
    contacts = await phone_part_contacts(lowest, above)
    found: list[tuple[datetime, int]] = []
    for start in range(0, len(contacts), _CANDIDATES):
        found += await (
            Deal.filter(_scope(viewer), contact_id__in=contacts[start : start + _CANDIDATES])
            .using_db(reading_connection())
            .order_by("-created_at")
            .limit(limit)
            .values_list("created_at", "id")
        )  # type: ignore[arg-type]
    return [deal_id for _, deal_id in sorted(found, reverse=True)[:limit]]


async def find_deals(
    query: str, viewer: Employee, limit: int = 10, *, crm: Crm | None = None
) -> list[Deal]:
    """Matching deals with their contacts, open ones first, newest first. With `crm`, a query
    naming one of its playbook's fields (`city:Казань`, `Продукт: Профи`) looks for that value."""
    text = query.strip()
    if not text or not viewer.active:
        return []
    # A name search may scan every contact: off the store's connection.
    reading = reading_connection()
    by_field = fields.field_query(crm.playbook, text, crm.now()) if crm else None
    if by_field is not None:
        found = await fields.find_deal_ids(by_field, _CANDIDATES)
        return await _visible(found, [], viewer, limit) if found else []
    deal_ids = await _tagged_deal_ids(fold(text.lstrip("#")))
    contact_ids: list[int] = []
    phone = normalize_phone(text)
    if phone:
        by_phone = ContactPhone.filter(e164=phone).using_db(reading)
        contact_ids += await by_phone.values_list("contact_id", flat=True)  # type: ignore[arg-type]
    part = part_range(text)
    # A whole number stored as typed is the answer; other digits are looked up as a part.
    if part and not contact_ids:
        deal_ids += await _deals_by_phone_part(*part, viewer, limit * 3)
    # Digits alone are no name: the name search would read every contact for them.
    if not text.startswith("#") and not part:
        # SQLite folds the case of ASCII letters only, so "анна" would miss "Анна": the usual
        # spellings of the query are matched as they are, besides the case-insensitive match.
        by_name = Q(name__icontains=text)
        for spelling in {text.lower(), text.title(), text.upper(), text.capitalize()}:
            by_name |= Q(name__contains=spelling)
        contact_ids += (
            await Contact.filter(by_name)
            .using_db(reading)
            .limit(_CANDIDATES)
            .values_list("id", flat=True)  # type: ignore[arg-type]
        )
    return await _visible(deal_ids, contact_ids, viewer, limit)


async def _visible(
    deal_ids: list[int], contact_ids: list[int], viewer: Employee, limit: int
) -> list[Deal]:
    """The deals among those found that the viewer may act on, open first, newest first."""
    reading = reading_connection()
    # Only lists that hold ids: an empty one is "1=0 OR …", which makes SQLite read every deal.
    matches = [Q(id__in=deal_ids)] if deal_ids else []
    matches += [Q(contact_id__in=contact_ids)] if contact_ids else []
    if not matches:
        return []
    match = Q(*matches, join_type=Q.OR)
    deals = await (
        Deal.filter(match, _scope(viewer))
        .using_db(reading)
        .order_by("-created_at")
        .limit(limit * 3)
        .select_related("contact")
    )
    visible = [d for d in deals if can_act_on(viewer, d.owner_id, d.team)]  # type: ignore[attr-defined]
    visible.sort(key=lambda d: d.status != DealStatus.OPEN)
    return visible[:limit]
