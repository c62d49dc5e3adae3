"""Periodic automations of the playbook: reminders before agreed calls, supervisors' digests.

Both run on every tick of the runtime's clock and decide from the store and crm.now() alone,
so they are exactly-once across ticks, processes and restarts: a reminder is claimed by a
conditional update of Task.reminded_at, a digest by one of Employee.digest_sent_on. A claim
whose notice could not be delivered is released for the next tick to retry.
(On Paid the purchase date and repeat sale are set inside the engine's transaction.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tortoise.expressions import Q

from crm import reports
from crm.context import Crm
from crm.notices import Notice, NoticeKind, Notifier
from storage.db import reading_connection
from storage.models import Employee, Role, Task, TaskStatus

log = logging.getLogger(__name__)
REMINDER_BATCH = 200


def agreed_call_buttons(crm: Crm) -> list[str]:
    """Buttons whose next time the client agreed to (they ask the rep for it)."""
    return [key for key, spec in crm.playbook.buttons.items() if spec.when == "ask"]


async def send_reminders(crm: Crm, notifier: Notifier) -> int:
    """Remind each rep M minutes before an agreed call, once; returns how many went out."""
    minutes = crm.playbook.automations.reminder_minutes
    buttons = agreed_call_buttons(crm)
    if not minutes or not buttons:
        return 0
    now = crm.now()
    # pushed_at IS NULL: a task not yet due is unpushed, and the condition lets the store use
    # the migration's partial index on unpushed open tasks by due time.
    upcoming = await Task.filter(
        status=TaskStatus.OPEN, pushed_at__isnull=True, reminded_at__isnull=True,
        assignee_id__not_isnull=True, planned_by__in=buttons,
        due_at__gt=now, due_at__lte=now + timedelta(minutes=minutes),
    ).order_by("due_at").limit(REMINDER_BATCH).values_list("id", "deal_id", "assignee_id")
    sent = 0
    for task_id, deal_id, assignee_id in upcoming:
        if not await Task.filter(id=task_id, reminded_at__isnull=True).update(reminded_at=now):
            continue  # another process claimed it
        try:
            await notifier.notify(
                Notice(assignee_id, NoticeKind.REMINDER, task_id=task_id, deal_id=deal_id,
                       params={"minutes": minutes})
            )
        except Exception:
            log.exception("reminder for task %s failed: will retry", task_id)
            await Task.filter(id=task_id, reminded_at=now).update(reminded_at=None)
            continue
        sent += 1
    return sent


@dataclass(frozen=True)
class DigestFigures:
    team: str
    day: date
    overdue: int  # the team's open tasks past due now
    ladder: reports.LadderStats  # no-answer presses today and ladders run out today
    lost: tuple[reports.LostReason, ...]  # deals lost today by reason


# The bot side turns the figures into the supervisor's language; the domain has no gettext.
DigestText = Callable[[Employee, DigestFigures], str]


async def digest_figures(crm: Crm, team: str, since: datetime) -> DigestFigures:
    now = crm.now()
    period = reports.Period(since, now, team)
    overdue = (
        await Task.filter(status=TaskStatus.OPEN, team=team, due_at__lt=now)
        .using_db(reading_connection())
        .count()
    )
    zone = crm.playbook.working_hours.zone
    return DigestFigures(
        team=team, day=now.astimezone(zone).date(), overdue=overdue,
        ladder=await reports.ladder_stats(crm, period),
        lost=await reports.lost_reasons(crm, period),
    )


async def send_digests(crm: Crm, notifier: Notifier, render: DigestText) -> int:
    """At the playbook's digest hour (department zone), each supervisor's digest, once a day."""
    hour = crm.playbook.automations.digest_hour
    zone = crm.playbook.working_hours.zone
    local = crm.now().astimezone(zone)
    if hour is None or local.hour < hour:
        return 0
    today = local.date()
    since = datetime.combine(today, time(), tzinfo=zone).astimezone(UTC)
    due = await Employee.filter(
        Q(digest_sent_on__isnull=True) | Q(digest_sent_on__lt=today),
        role=Role.SUPERVISOR, active=True,
    )
    figures: dict[str, DigestFigures] = {}
    sent = 0
    for supervisor in due:
        previous = supervisor.digest_sent_on
        claimed = await Employee.filter(
            Q(digest_sent_on__isnull=True) | Q(digest_sent_on__lt=today), id=supervisor.id
        ).update(digest_sent_on=today)
        if not claimed:
            continue
        if supervisor.team not in figures:
            figures[supervisor.team] = await digest_figures(crm, supervisor.team, since)
        try:
            text = render(supervisor, figures[supervisor.team])
            await notifier.notify(Notice(supervisor.id, NoticeKind.DIGEST, params={"text": text}))
        except Exception:
            log.exception("digest for supervisor %s failed: will retry", supervisor.id)
            await Employee.filter(id=supervisor.id, digest_sent_on=today).update(
                digest_sent_on=previous
            )
            continue
        sent += 1
    return sent
