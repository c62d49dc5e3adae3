"""The next-step engine: a pressed outcome closes the task and creates the next one, atomically.

A Telegram button and a SIP 486 both end up in apply_outcome; nothing here knows which.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from config.playbook import Playbook
from crm.context import Crm
from crm.deals import open_deal
from crm.fields import missing_for_stage
from crm.permissions import can_act_on
from crm.schedule import Placed
from crm.tags import add_deal_tags, hashtags
from storage import writes
from storage.models import (
    Contact,
    DealStatus,
    Employee,
    EventKind,
    TaskStatus,
    TimelineEvent,
)
from storage.targets import PressTarget, load_press_target
from storage.writes import EventRow

TERMINAL_STATUS = {"won": DealStatus.WON, "lost": DealStatus.LOST, "archive": DealStatus.ARCHIVED}


class Status(enum.StrEnum):
    DONE = "done"
    NOTE_ADDED = "note_added"
    ALREADY_HANDLED = "already_handled"
    FORBIDDEN = "forbidden"
    NOT_OFFERED = "not_offered"
    NEEDS_TIME = "needs_time"
    NEEDS_REASON = "needs_reason"
    NEEDS_FIELDS = "needs_fields"  # the next stage requires custom fields the deal lacks


@dataclass(frozen=True)
class Press:
    """One press of an outcome button, by a person or, for him, by the SIP listener."""

    task_id: int
    button: str
    actor: Employee | None
    when: datetime | None = None
    reason: str | None = None
    note: str = ""
    source: str = "bot"
    data: dict[str, object] = field(default_factory=dict)
    # Whether whoever pressed can be asked for the fields the next stage requires. The SIP
    # listener presses for the agent and cannot: its outcome moves the deal regardless, or the
    # no-answer ladder would stop at a stage that requires a field.
    can_ask: bool = True


@dataclass(frozen=True)
class Decision:
    """What a button does to a deal, before it touches the store."""

    stage: str
    status: DealStatus
    no_answer_count: int
    due: datetime | None
    task_kind: str | None


@dataclass(frozen=True)
class Outcome:
    status: Status
    deal_id: int | None = None
    stage: str | None = None
    deal_status: DealStatus | None = None
    next_task_id: int | None = None
    next_due: datetime | None = None
    attempt: int = 0
    repeat_deal_id: int | None = None
    tags_added: tuple[str, ...] = ()  # by the note's hashtags
    missing_fields: tuple[str, ...] = ()  # NEEDS_FIELDS: keys of the fields to fill first


async def place_for_task(crm: Crm, task_id: int, when: datetime) -> Placed:
    """Where a time chosen for this task's next step goes, and why it moved: what the press
    will do with it, told to the rep first (the engine places every due the same way)."""
    target = await load_press_target(task_id)
    return crm.place(when, target.contact_tz if target else None)


def ladder_size(playbook: Playbook, button: str) -> int:
    """Attempts before the ladder gives up, counting the last one ("attempt 5/5")."""
    spec = playbook.buttons[button]
    return len(playbook.ladders[spec.ladder].steps) + 1 if spec.ladder else 0


def decide(
    playbook: Playbook, stage: str, no_answer_count: int, button: str, now: datetime,
    when: datetime | None,
) -> Decision | Status:
    spec = playbook.buttons[button]
    if spec.ladder:
        ladder = playbook.ladders[spec.ladder]
        count = no_answer_count + 1
        if count > len(ladder.steps):
            status = TERMINAL_STATUS[playbook.stage(ladder.then).terminal or "archive"]
            return Decision(ladder.then, status, count, None, None)
        return Decision(stage, DealStatus.OPEN, count, now + ladder.steps[count - 1], spec.task)
    next_stage = spec.next_stage or stage
    count = 0 if spec.reached else no_answer_count
    terminal = playbook.stage(next_stage).terminal
    if terminal:
        return Decision(next_stage, TERMINAL_STATUS[terminal], count, None, None)
    if spec.when == "ask":
        if when is None:
            return Status.NEEDS_TIME
        due = when
    elif spec.fixed_delay is not None:
        due = now + spec.fixed_delay
    else:
        due = now
    return Decision(next_stage, DealStatus.OPEN, count, due, spec.task)


def _offered(playbook: Playbook, stage: str, button: str) -> bool:
    offered = playbook.stage(stage).buttons
    return button in offered or any(button in playbook.buttons[b].submenu for b in offered)


async def apply_outcome(
    crm: Crm, press: Press, *, target: PressTarget | None = None,
    events: Sequence[EventRow] = (), in_callers_transaction: bool = False,
    lines: list[EventRow] | None = None,
) -> Outcome:
    """Press a button on a task. `target`: the task as the caller has just read it (a captured
    call finds it with the number), else it is read here; a stale one only ends in
    ALREADY_HANDLED. `events`: other timeline lines (the call's) written with the press's own,
    in one statement, when the press is DONE; the caller writes them otherwise.
    `in_callers_transaction`: the writes go into the transaction the caller holds, without a
    savepoint of their own (two statements fewer); a deal found changed after the first write
    then raises StalePress, and the caller must roll its transaction back. `lines`: the
    timeline lines are added to it for the caller to write later in its transaction, in one
    statement with others (a batch of captured calls), instead of being written here."""
    pb = crm.playbook
    target = target or await load_press_target(press.task_id)
    if target is None:
        return Outcome(Status.ALREADY_HANDLED)
    deal_id, stage = target.deal_id, target.stage
    if press.actor is not None and not can_act_on(press.actor, target.owner_id, target.team):
        return Outcome(Status.FORBIDDEN, deal_id)
    if target.task_status != TaskStatus.OPEN or press.button not in pb.buttons:
        return Outcome(Status.ALREADY_HANDLED, deal_id, stage)
    if not _offered(pb, stage, press.button) or pb.buttons[press.button].submenu:
        return Outcome(Status.NOT_OFFERED, deal_id, stage)
    spec = pb.buttons[press.button]
    now = crm.now()
    actor_id = press.actor.id if press.actor else None
    if spec.note:
        # The note as typed, and its hashtags among the deal's tags, or neither. The note is
        # written first: on SQLite a transaction that writes first never fails with "database
        # is locked", and it holds the write lock for the read of the tags.
        async with in_transaction():
            await TimelineEvent.create(
                deal_id=deal_id, kind=EventKind.NOTE, text=press.note, actor_id=actor_id, at=now
            )
            added = await add_deal_tags(deal_id, hashtags(press.note))
        return Outcome(Status.NOTE_ADDED, deal_id, stage, tags_added=tuple(added))
    if spec.reasons and press.reason not in spec.reasons:
        return Outcome(Status.NEEDS_REASON, deal_id, stage)
    decision = decide(pb, stage, target.no_answer_count, press.button, now, press.when)
    if isinstance(decision, Status):
        return Outcome(decision, deal_id, stage)
    if press.can_ask and decision.stage != stage:
        if missing := await missing_for_stage(pb, deal_id, decision.stage):
            keys = tuple(f.key for f in missing)
            return Outcome(Status.NEEDS_FIELDS, deal_id, stage, missing_fields=keys)
    due = crm.place(decision.due, target.contact_tz).at if decision.due else None

    held = contextlib.nullcontext() if in_callers_transaction else in_transaction()
    try:
        async with held:
            next_task_id, repeat_deal_id = await _write(
                crm, press, target, decision, due, now, events, lines
            )
    except _Stale:
        if in_callers_transaction:
            raise StalePress(Outcome(Status.ALREADY_HANDLED, deal_id, stage)) from None
        return Outcome(Status.ALREADY_HANDLED, deal_id, stage)
    attempt = decision.no_answer_count if spec.ladder else 0
    return Outcome(
        Status.DONE, deal_id, decision.stage, decision.status, next_task_id, due, attempt,
        repeat_deal_id,
    )


async def _write(
    crm: Crm, press: Press, target: PressTarget, decision: Decision, due: datetime | None,
    now: datetime, others: Sequence[EventRow], lines: list[EventRow] | None,
) -> tuple[int | None, int | None]:
    """The outcome's writes, inside the caller's transaction; raises _Stale to roll back."""
    spec = crm.playbook.buttons[press.button]
    actor_id = press.actor.id if press.actor else None
    attempt = decision.no_answer_count if spec.ladder else 0
    # The conditional close comes first: it is the lock that makes a double tap a no-op, and on
    # SQLite a transaction that writes first never fails with "database is locked".
    if not await writes.close_open_task(target.task_id, press.button, actor_id, now):
        raise _Stale
    changes: dict[str, object] = {
        "stage": decision.stage,
        "status": str(decision.status),
        "no_answer_count": decision.no_answer_count,
        "version": target.version + 1,
    }
    if decision.stage != target.stage:
        changes["stage_changed_at"] = now
    if decision.status != DealStatus.OPEN:
        changes["closed_at"] = now
    if press.reason:
        changes["lost_reason"] = press.reason
        changes["lost_note"] = press.note or None
    if not await writes.update_deal(target.deal_id, target.version, changes):
        raise _Stale
    next_task_id = None
    if due is not None and decision.task_kind:
        next_task_id = await writes.insert_task(
            target.deal_id, decision.task_kind, due, target.owner_id, target.team, attempt,
            press.button, now,
        )
    events = [
        *others,
        EventRow(
            target.deal_id, EventKind.OUTCOME, now, actor_id=actor_id, text=press.note,
            data={
                "button": press.button, "source": press.source, "reason": press.reason,
                "due": due.isoformat() if due else None, "attempt": attempt or None,
                **press.data,
            },
        )
    ]
    if decision.stage != target.stage:
        events.append(
            EventRow(
                target.deal_id, EventKind.STAGE, now, actor_id=actor_id,
                data={"from": target.stage, "to": decision.stage},
            )
        )
    if lines is None:
        await writes.insert_events(events)
    else:
        lines += events
    repeat_deal_id = None
    if decision.status == DealStatus.WON:
        repeat_deal_id = await _after_won(crm, target, now)
    return next_task_id, repeat_deal_id


class _Stale(Exception):
    """The deal changed under us; the transaction rolls back."""


class StalePress(Exception):
    """The deal changed under a press written in its caller's transaction, after the press's
    first write: the caller rolls back. `outcome` is what the press ended in."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


async def _after_won(crm: Crm, target: PressTarget, now: datetime) -> int | None:
    """Automation on Paid: remember the purchase and plan the repeat sale."""
    contact = await Contact.get(id=target.contact_id)
    contact.last_purchase_at = now
    await contact.save(update_fields=["last_purchase_at"])
    days = crm.playbook.automations.repeat_sale_days
    if not days:
        return None
    repeat = await open_deal(
        crm, contact, owner_id=target.owner_id, team=target.team,
        title=target.title, source="repeat", task_kind="repeat_sale",
        due=crm.place(now + timedelta(days=days), contact.tz).at, link_from=target.deal_id,
    )
    return repeat.id
