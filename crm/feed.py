"""The rep's feed: what to do next, what is due, how loaded each hour is."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from crm.context import Crm
from crm.notices import Notice, NoticeKind, Notifier
from crm.permissions import can_act_on
from storage import claims, targets
from storage.claims import FeedTask
from storage.models import (
    Contact,
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Role,
    Task,
    TaskStatus,
    TimelineEvent,
)


@dataclass(frozen=True)
class Slot:
    start: datetime
    tasks: int


async def next_task(crm: Crm, employee: Employee, *, unshown: bool = False) -> FeedTask | None:
    """The most urgent open task of this rep (overdue first, then due); when nothing is due,
    the oldest unassigned lead of his team, claimed for him so no colleague gets it too.
    `unshown` (the conveyor): skip cards he was already sent and has in his chat."""
    now = crm.now()
    own = await claims.own_due_task(employee.id, now, unshown=unshown)
    if own is not None:
        return own
    return await claims.claim_queued_task(employee.id, employee.team, now)


async def card_shown(crm: Crm, task_id: int) -> bool:
    """The rep is being handed this task's card: if it is due, its due push is not sent again
    (one message per event). True when this marked it, so a failed send can undo it."""
    return await claims.mark_shown(task_id, crm.now())


async def card_not_delivered(task_id: int) -> None:
    """Undo card_shown after the card could not be sent: the due push will carry it."""
    await claims.release_push(task_id)


async def waiting_shown(employee: Employee, crm: Crm) -> int:
    """Due cards the rep already has in his chat (the conveyor does not send them again)."""
    return await Task.filter(
        assignee_id=employee.id, status=TaskStatus.OPEN, due_at__lte=crm.now(),
        pushed_at__isnull=False,
    ).count()


async def next_upcoming(employee: Employee) -> Task | None:
    """The rep's earliest open task not yet due (to say "nothing due, next at 15:00")."""
    return (
        await Task.filter(assignee_id=employee.id, status=TaskStatus.OPEN)
        .order_by("due_at")
        .first()
    )


async def assign_deal(crm: Crm, deal: Deal, employee: Employee, actor: Employee | None) -> None:
    """Make employee the owner of the deal, its open task and (if unowned) its contact."""
    now = crm.now()
    async with in_transaction():
        # Bumped in the store, not from the caller's copy: a press that loaded the deal before
        # this must fail its version check even if the copy is older than the store.
        await Deal.filter(id=deal.id).update(
            owner_id=employee.id, team=employee.team, version=F("version") + 1
        )
        # Unpushed again: if it is due, the new owner gets the card on the next tick.
        await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).update(
            assignee_id=employee.id, team=employee.team, pushed_at=None
        )
        await Contact.filter(id=deal.contact_id, owner_id=None).update(  # type: ignore[attr-defined]
            owner_id=employee.id
        )
        await TimelineEvent.create(
            deal_id=deal.id, kind=EventKind.ASSIGN, at=now,
            actor_id=actor.id if actor else None,
            data={"from": deal.owner_id, "to": employee.id},  # type: ignore[attr-defined]
        )
    deal.owner_id = employee.id  # type: ignore[attr-defined]
    deal.version += 1


async def reassign(
    crm: Crm, actor: Employee, deal_id: int, rep_id: int, notifier: Notifier
) -> tuple[Deal, Employee] | None:
    """A supervisor (his team's deals) or an admin gives an open deal to an active rep of the
    deal's team the bot can reach; None when any of that does not hold (forged or stale
    buttons included). The new owner gets the card, the one who had it is told who moved it
    to whom."""
    if actor.role == Role.REP:
        return None
    deal = await Deal.get_or_none(id=deal_id, status=DealStatus.OPEN)
    rep = await Employee.get_or_none(id=rep_id, role=Role.REP, active=True, reachable=True)
    if deal is None or rep is None or rep.team != deal.team:
        return None
    if not can_act_on(actor, deal.owner_id, deal.team):  # type: ignore[attr-defined]
        return None
    before: int | None = deal.owner_id  # type: ignore[attr-defined]
    if before == rep.id:
        return deal, rep
    await assign_deal(crm, deal, rep, actor=actor)
    task = await Task.get_or_none(deal_id=deal.id, status=TaskStatus.OPEN)
    params = {"by": actor.name, "to": rep.name, "title": deal.title}
    await notifier.notify(
        Notice(rep.id, NoticeKind.DEAL_GIVEN, task.id if task else None, deal.id, params)
    )
    if before is not None and before != actor.id:
        await notifier.notify(Notice(before, NoticeKind.DEAL_TAKEN, None, deal.id, params))
    return deal, rep


async def load_by_hour(employee: Employee, day: date, zone: ZoneInfo) -> dict[int, int]:
    """Open tasks of a rep per local hour of one day, for the slot keyboard ("11:00 · 3")."""
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    dues = await Task.filter(
        assignee_id=employee.id, status=TaskStatus.OPEN, due_at__gte=start, due_at__lt=end
    ).values_list("due_at", flat=True)
    return dict(Counter(d.astimezone(zone).hour for d in dues))  # type: ignore[attr-defined]


async def slots(
    crm: Crm, employee: Employee, count: int = 8, task_id: int | None = None
) -> list[Slot]:
    """The next hours from now inside working hours and, for a task, its client's call window,
    each with the rep's task count in it."""
    hours = crm.playbook.working_hours
    zone = hours.zone
    target = await targets.load_press_target(task_id) if task_id is not None else None
    client_tz = target.contact_tz if target else None
    moment = crm.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    found: list[Slot] = []
    loads: dict[date, dict[int, int]] = {}
    for _ in range(24 * 15):
        snapped = crm.snap(moment, client_tz)
        local = snapped.astimezone(zone)
        if local.date() not in loads:
            loads[local.date()] = await load_by_hour(employee, local.date(), zone)
        found.append(Slot(snapped, loads[local.date()].get(local.hour, 0)))
        if len(found) == count:
            break
        moment = snapped + timedelta(hours=1)
    return found
