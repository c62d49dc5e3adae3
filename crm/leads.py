"""Clients who write in: found or created, their message put on a deal, the deal given to a rep.

A message from a client with an open deal belongs to that deal and its owner. Otherwise a New
lead deal opens in the configured team with a "lead" task due now, assigned by the playbook rule
among the team's reps on shift whom the bot can reach. With nobody to take it, it waits
unassigned in the team queue, where /next claims it, and the team's supervisors (the admins when
it has none) are told at once and again after the playbook's escalate_after of working time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from crm.chat import ChatContent, heard_from, record_incoming
from crm.context import Crm
from crm.deals import ContactDraft, find_or_create_contact, open_deal, open_deal_of
from crm.notices import Notice, NoticeKind
from crm.phonebook import add_phones
from crm.phones import normalize_phone
from crm.schedule import add_working_time
from crm.staff import TelegramUser, overseers
from storage import claims
from storage.models import (
    ChatMessage,
    Contact,
    ContactPhone,
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Role,
    Task,
    TaskStatus,
    TimelineEvent,
)

SOURCE = "telegram"
LEAD_TASK = "lead"


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
    team: str | None = None, bot_id: int | None = None,
) -> Intake:
    """Put one client message (written to bot_id) on the right deal, opening and assigning a
    lead when needed; a new lead goes to `team`, by default the playbook's [leads] team."""
    team = team or crm.playbook.leads.team
    phone = normalize_phone(shared_phone) if shared_phone else None
    contact, created = await _contact_for(crm, client, phone)
    deal = await open_deal_of(contact.id)
    task = None
    repeat_of = None
    if deal is None:
        deal, task, repeat_of = await open_lead(crm, contact, team, SOURCE)
    resumed = await heard_from(crm, contact, deal, bot_id)
    message = await record_incoming(crm, contact, deal, content, client_message_id)
    alerts = find_alerts(crm, content.text, [*contact.tags, *deal.tags])
    return Intake(contact, deal, task, message, created, repeat_of, alerts, resumed)


async def open_lead(
    crm: Crm, contact: Contact, team: str, source: str
) -> tuple[Deal, Task, int | None]:
    """A new lead deal for a client who wrote in (by any channel), given to the team's next
    rep by the playbook rule or left in the team queue to be raised again later; with the
    closed deal it follows, if he is a returning client."""
    repeat_of = await _last_closed_deal(contact.id)
    owner = await pick_rep(crm, team)
    deal = await open_deal(
        crm, contact, owner_id=owner.id if owner else None, team=owner.team if owner else team,
        source=source, task_kind=LEAD_TASK, link_from=repeat_of,
    )
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    if owner:
        await Contact.filter(id=contact.id, owner_id=None).update(owner_id=owner.id)
    else:
        task.escalate_at = add_working_time(
            crm.now(), crm.playbook.leads.escalate_after, crm.playbook.working_hours
        )
        await Task.filter(id=task.id).update(escalate_at=task.escalate_at)
    return deal, task, repeat_of


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
    """The rep on shift and reachable who gets the next lead, by the playbook rule; None if
    nobody can take it."""
    least_loaded = crm.playbook.assignment.mode == "least_loaded"
    rep_id = await claims.take_lead_turn(team, least_loaded=least_loaded)
    return await Employee.get(id=rep_id) if rep_id is not None else None


def find_alerts(crm: Crm, text: str, tags: list[str]) -> tuple[Alert, ...]:
    """Playbook keywords in the message and VIP tags on the contact or deal."""
    rules = crm.playbook.alerts
    lowered = text.casefold()
    found = [Alert(AlertKind.KEYWORD, w) for w in rules.keywords if w.casefold() in lowered]
    carried = {t.casefold() for t in tags}
    found += [Alert(AlertKind.VIP, t) for t in rules.vip_tags if t.casefold() in carried]
    return tuple(found)


async def alert_notices(found: Intake, *, owner_told: bool = False) -> list[Notice]:
    """Urgent notices of an intake: alerts to the deal's owner (unless `owner_told`: his new
    lead's card carried them) and his team's supervisors, and a new lead nobody could take to
    its team's supervisors (the admins when it has none)."""
    deal = found.deal
    notices = []
    if found.new_deal and deal.owner_id is None and found.task:  # type: ignore[attr-defined]
        notices += await waiting_notices(found.task.id, deal.id, deal.team)
    if not found.alerts:
        return notices
    supervisors = await Employee.filter(
        team=deal.team, role=Role.SUPERVISOR, active=True
    ).values_list("id", flat=True)
    owner_id: int | None = deal.owner_id  # type: ignore[attr-defined]
    recipients = [owner_id] if owner_id and not owner_told else []
    recipients += [
        int(s) for s in supervisors  # type: ignore[call-overload]
        if s not in recipients and not (owner_told and s == owner_id)
    ]
    params: dict[str, str | int | None] = {
        "text": found.message.text,
        "chat_message_id": found.message.id,
        "alerts": ", ".join(a.word for a in found.alerts),
    }
    task = await Task.get_or_none(deal_id=deal.id, status=TaskStatus.OPEN)
    return notices + [
        Notice(employee_id, NoticeKind.ALERT, task.id if task else None, deal.id, params)
        for employee_id in recipients
    ]


async def waiting_notices(
    task_id: int, deal_id: int, team: str, *, escalated: bool = False, owned: bool = False
) -> list[Notice]:
    """A lead waits in its team's queue with nobody to take it: tell who can hand it out.
    `owned`: not a lead but a deal someone had (a disabled rep's, left in the queue)."""
    params: dict[str, str | int | None] = {
        "team": team, "escalated": int(escalated), "owned": int(owned)
    }
    return [
        Notice(employee_id, NoticeKind.LEAD_WAITING, task_id, deal_id, params)
        for employee_id in await overseers(team)
    ]


async def escalations(crm: Crm) -> list[Notice]:
    """Leads still waiting past the playbook's escalate_after, raised again, each once; with
    them the deals a disabled rep left in the queue (crm.staff.disable_employee)."""
    due = await claims.claim_escalations(crm.now())
    if not due:
        return []
    # Only giving a deal writes an ASSIGN event: a deal with one had an owner, a lead never did.
    owned = set(await TimelineEvent.filter(
        deal_id__in=[deal_id for _, deal_id, _ in due], kind=EventKind.ASSIGN
    ).values_list("deal_id", flat=True))
    notices = []
    for task_id, deal_id, team in due:
        notices += await waiting_notices(
            task_id, deal_id, team, escalated=True, owned=deal_id in owned
        )
    return notices


async def set_shift(employee: Employee, on: bool) -> None:
    """A rep starts or ends his shift: only reps on shift get new chat leads."""
    await Employee.filter(id=employee.id).update(on_shift=on)
    employee.on_shift = on
