"""Clients who write in: found or created, their message put on a deal, the deal given to a rep.

A message from a client with an open deal belongs to that deal and its owner. Otherwise a New
lead deal opens with a "lead" task due now, assigned by the playbook rule among the team's reps
on shift; with nobody on shift it waits unassigned in the team queue, where /next claims it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count

from crm.chat import ChatContent, heard_from, record_incoming
from crm.context import Crm
from crm.deals import ContactDraft, find_or_create_contact, open_deal, open_deal_of
from crm.notices import Notice, NoticeKind
from crm.phonebook import add_phones
from crm.phones import normalize_phone
from crm.staff import TelegramUser
from storage.models import (
    ChatMessage,
    Contact,
    ContactPhone,
    Deal,
    DealStatus,
    Employee,
    Role,
    Task,
    TaskStatus,
)

SOURCE = "telegram"
LEAD_TASK = "lead"
DEFAULT_TEAM = "main"


class AlertKind(enum.StrEnum):
    KEYWORD = "keyword"
    VIP = "vip"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    word: str  # the keyword found or the VIP tag carried


@dataclass(frozen=True)
class Intake:
    contact: Contact
    deal: Deal
    task: Task | None  # the new lead's task; None when the message joined an open deal
    message: ChatMessage
    new_contact: bool
    repeat_of: int | None  # the closed deal a returning client's new deal follows
    alerts: tuple[Alert, ...]
    resumed: bool = False  # he had said /stop: this message turned replies back on

    @property
    def new_deal(self) -> bool:
        return self.task is not None


async def intake(
    crm: Crm, client: TelegramUser, content: ChatContent, *,
    client_message_id: int | None = None, shared_phone: str | None = None,
    team: str = DEFAULT_TEAM, bot_id: int | None = None,
) -> Intake:
    """Put one client message (written to bot_id) on the right deal, opening and assigning a
    lead when needed."""
    phone = normalize_phone(shared_phone) if shared_phone else None
    contact, created = await _contact_for(crm, client, phone)
    deal = await open_deal_of(contact.id)
    task = None
    repeat_of = None
    if deal is None:
        repeat_of = await _last_closed_deal(contact.id)
        owner = await pick_rep(crm, team)
        deal = await open_deal(
            crm, contact, owner_id=owner.id if owner else None, team=owner.team if owner else team,
            source=SOURCE, task_kind=LEAD_TASK, link_from=repeat_of,
        )
        task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
        if owner:
            await Contact.filter(id=contact.id, owner_id=None).update(owner_id=owner.id)
    resumed = await heard_from(crm, contact, deal, bot_id)
    message = await record_incoming(crm, contact, deal, content, client_message_id)
    alerts = find_alerts(crm, content.text, [*contact.tags, *deal.tags])
    return Intake(contact, deal, task, message, created, repeat_of, alerts, resumed)


async def _contact_for(
    crm: Crm, client: TelegramUser, phone: str | None
) -> tuple[Contact, bool]:
    """By Telegram user first, then by the shared phone (linking that contact to the user)."""
    contact = await Contact.get_or_none(tg_user_id=client.id)
    if contact is None and phone:
        holder = await ContactPhone.get_or_none(e164=phone).select_related("contact")
        if holder and holder.contact.tg_user_id is None:
            await Contact.filter(id=holder.contact.id).update(
                tg_user_id=client.id, tg_username=client.username
            )
            await holder.contact.refresh_from_db()
            return holder.contact, False
    if contact is None:
        draft = ContactDraft(
            name=client.name, phones=(phone,) if phone else (), tg_user_id=client.id,
            tg_username=client.username, source=SOURCE,
        )
        return await find_or_create_contact(crm, draft)
    if phone and not await ContactPhone.exists(e164=phone):
        try:
            await add_phones([(contact.id, phone)])
        except IntegrityError:
            pass  # the same number was just saved by a parallel message
    return contact, False


async def _last_closed_deal(contact_id: int) -> int | None:
    deal = (
        await Deal.filter(contact_id=contact_id)
        .exclude(status=DealStatus.OPEN)
        .order_by("-created_at", "-id")
        .first()
    )
    return deal.id if deal else None


async def pick_rep(crm: Crm, team: str) -> Employee | None:
    """The rep on shift who gets the next lead, by the playbook rule; None if nobody is on."""
    for _ in range(5):
        reps = await Employee.filter(
            team=team, role=Role.REP, active=True, on_shift=True
        ).order_by("lead_turn", "id")
        if not reps:
            return None
        if crm.playbook.assignment.mode == "least_loaded":
            loads = await _open_tasks(reps)
            # min keeps the first of equals: among the least loaded, the longest without a lead.
            chosen = min(reps, key=lambda r: loads.get(r.id, 0))
        else:
            chosen = reps[0]
        if await _take_turn(chosen, team):
            return chosen
    # Five lost races in a row: hand it to the last choice rather than leave it unassigned.
    return chosen


async def _open_tasks(reps: list[Employee]) -> dict[int, int]:
    # Counted by the store: a rep carries thousands of open tasks, one row each would be loaded
    # on every lead otherwise.
    rows = (
        await Task.filter(assignee_id__in=[r.id for r in reps], status=TaskStatus.OPEN)
        .annotate(n=Count("id"))
        .group_by("assignee_id")
        .values_list("assignee_id", "n")
    )
    return {int(assignee): int(n) for assignee, n in rows}


async def _take_turn(rep: Employee, team: str) -> bool:
    """Move the rep behind everyone; False if another process moved him first (compare-and-set)."""
    last = await Employee.filter(team=team).order_by("-lead_turn").first()
    turn = (last.lead_turn if last else 0) + 1
    return bool(await Employee.filter(id=rep.id, lead_turn=rep.lead_turn).update(lead_turn=turn))


def find_alerts(crm: Crm, text: str, tags: list[str]) -> tuple[Alert, ...]:
    """Playbook keywords in the message and VIP tags on the contact or deal."""
    rules = crm.playbook.alerts
    lowered = text.casefold()
    found = [Alert(AlertKind.KEYWORD, w) for w in rules.keywords if w.casefold() in lowered]
    carried = {t.casefold() for t in tags}
    found += [Alert(AlertKind.VIP, t) for t in rules.vip_tags if t.casefold() in carried]
    return tuple(found)


async def alert_notices(found: Intake) -> list[Notice]:
    """Urgent notices for an intake with alerts: to the deal's owner and his team's supervisors."""
    if not found.alerts:
        return []
    deal = found.deal
    supervisors = await Employee.filter(
        team=deal.team, role=Role.SUPERVISOR, active=True
    ).values_list("id", flat=True)
    owner_id: int | None = deal.owner_id  # type: ignore[attr-defined]
    recipients = [owner_id] if owner_id else []
    recipients += [int(s) for s in supervisors if s not in recipients]  # type: ignore[call-overload]
    params: dict[str, str | int | None] = {
        "text": found.message.text,
        "chat_message_id": found.message.id,
        "alerts": ", ".join(a.word for a in found.alerts),
    }
    task = await Task.get_or_none(deal_id=deal.id, status=TaskStatus.OPEN)
    return [
        Notice(employee_id, NoticeKind.ALERT, task.id if task else None, deal.id, params)
        for employee_id in recipients
    ]


async def set_shift(employee: Employee, on: bool) -> None:
    """A rep starts or ends his shift: only reps on shift get new chat leads."""
    await Employee.filter(id=employee.id).update(on_shift=on)
    employee.on_shift = on
