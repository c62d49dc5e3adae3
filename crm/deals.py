"""Contacts and deals: finding before creating, so one person never becomes two contacts."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from crm.context import Crm
from crm.phonebook import add_phones
from crm.phones import REGION_ZONES, normalize_phone, pretty_phone, zone_for_phone
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

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# "Anna Petrova +7 999 123-45-67" or "+7 999 123-45-67 Anna": a phone-like run and a name.
_PHONE_RUN = re.compile(r"\+?\d[\d\s().-]{5,}\d")


@dataclass(frozen=True)
class ContactDraft:
    """A person as typed or imported, before it is matched against the store."""

    name: str = ""
    phones: tuple[str, ...] = ()
    email: str | None = None
    tg_user_id: int | None = None
    tg_username: str | None = None
    company: str = ""
    source: str = ""


@dataclass(frozen=True)
class QuickAdd:
    contact: Contact
    deal: Deal | None
    created: bool


def normalize_email(raw: str | None) -> str | None:
    if not raw:
        return None
    email = raw.strip().lower()
    return email if _EMAIL_RE.match(email) else None


def split_name_and_phone(text: str) -> tuple[str, str | None]:
    """Read "Name +7 999 …" (either order); the phone comes back as E.164 or None."""
    match = _PHONE_RUN.search(text)
    if not match:
        return text.strip(), None
    phone = normalize_phone(match.group(0))
    name = (text[: match.start()] + " " + text[match.end() :]).strip(" ,;-\n\t")
    return " ".join(name.split()), phone


async def find_contact(draft: ContactDraft) -> Contact | None:
    """The existing contact with the same phone, email or Telegram user, if any."""
    if draft.tg_user_id is not None:
        found = await Contact.get_or_none(tg_user_id=draft.tg_user_id)
        if found:
            return found
    if draft.phones:
        phone = await ContactPhone.filter(e164__in=list(draft.phones)).first()
        if phone:
            return await Contact.get(id=phone.contact_id)  # type: ignore[attr-defined]
    return await contact_by_email(draft.email)


async def contact_by_email(address: str | None) -> Contact | None:
    """The contact with this address: his first (Contact.email) or another one of his."""
    email = normalize_email(address)
    if email is None:
        return None
    contact = await Contact.get_or_none(email=email)
    if contact is None:
        other = await ContactEmail.get_or_none(address=email).select_related("contact")
        contact = other.contact if other else None
    return contact


async def add_address(contact_id: int, address: str) -> bool:
    """Another address of a contact (letters from it are his); False when it is not an address
    or is known already, his or someone's."""
    email = normalize_email(address)
    if email is None or await contact_by_email(email) is not None:
        return False
    try:
        async with in_transaction():  # a savepoint: a race lost leaves the caller's going
            await ContactEmail.create(contact_id=contact_id, address=email)
    except IntegrityError:
        return False
    return True


async def find_or_create_contact(
    crm: Crm, draft: ContactDraft, owner_id: int | None = None
) -> tuple[Contact, bool]:
    """The contact for a draft, created when nobody matches. The unique keys decide races."""
    existing = await find_contact(draft)
    if existing:
        return existing, False
    zone = next((z for z in map(zone_for_phone, draft.phones) if z), None)
    try:
        async with in_transaction():
            contact = await Contact.create(
                name=draft.name, company=draft.company, email=normalize_email(draft.email),
                tg_user_id=draft.tg_user_id, tg_username=draft.tg_username, tz=zone,
                source=draft.source, owner_id=owner_id, created_at=crm.now(),
            )
            await add_phones((contact.id, p) for p in dict.fromkeys(draft.phones))
    except IntegrityError:
        # Someone created the same person between our lookup and insert.
        existing = await find_contact(draft)
        if existing is None:
            raise
        return existing, False
    return contact, True


async def open_deal(
    crm: Crm, contact: Contact, *, owner_id: int | None, team: str, title: str = "",
    source: str = "", amount: int = 0, task_kind: str = "call", due: datetime | None = None,
    link_from: int | None = None,
) -> Deal:
    """A new deal in the first stage with its first task (due now unless told otherwise)."""
    now = crm.now()
    stage = crm.playbook.initial_stage.key
    async with in_transaction():
        deal = await Deal.create(
            contact_id=contact.id, title=title or contact.name, amount=amount, stage=stage,
            source=source, owner_id=owner_id, team=team, created_at=now, stage_changed_at=now,
        )
        await Task.create(
            deal_id=deal.id, kind=task_kind, due_at=due or now, assignee_id=owner_id, team=team,
            created_at=now,
        )
        data: dict[str, object] = {"stage": stage, "source": source}
        if link_from:
            data["repeat_of"] = link_from
        await TimelineEvent.create(deal_id=deal.id, kind=EventKind.CREATED, data=data, at=now)
    deal.contact = contact
    return deal


RECENT_REGIONS = 3  # how many of a rep's last picks come first in the region list


async def pick_region(employee: Employee, contact_id: int, region: str) -> bool:
    """The client's time zone, picked by a rep as a region when the phone did not tell it;
    the rep's recent picks keep it first. False for a region that is not on the list."""
    zone = REGION_ZONES.get(region)
    if zone is None:
        return False
    recent = [region, *(r for r in employee.recent_regions if r != region)][:RECENT_REGIONS]
    async with in_transaction():
        await Contact.filter(id=contact_id).update(tz=zone)
        await Employee.filter(id=employee.id).update(recent_regions=recent)
    employee.recent_regions = recent
    return True


async def first_phones(contact_ids: Collection[int]) -> dict[int, str]:
    """Each contact's first number, pretty: what names a contact that has no name."""
    if not contact_ids:
        return {}
    rows = await ContactPhone.filter(contact_id__in=list(contact_ids)).order_by("-id").values_list(
        "contact_id", "e164"
    )
    return {int(c): pretty_phone(str(p)) for c, p in rows}  # the lowest id is written last


async def open_deal_of(contact_id: int) -> Deal | None:
    return (
        await Deal.filter(contact_id=contact_id, status=DealStatus.OPEN)
        .order_by("-created_at")
        .first()
    )


async def quick_add(
    crm: Crm, draft: ContactDraft, *, owner_id: int | None, team: str, source: str = "manual"
) -> QuickAdd:
    """A new deal with a first task for a new person, or the existing contact and deal."""
    contact, created = await find_or_create_contact(crm, draft, owner_id)
    if not created:
        return QuickAdd(contact, await open_deal_of(contact.id), created=False)
    deal = await open_deal(crm, contact, owner_id=owner_id, team=team, source=source)
    return QuickAdd(contact, deal, created=True)
