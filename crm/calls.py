"""What a call means for the pipeline: timeline, the agent's button pressed by itself, leads.

The SIP listener hands finished calls here; an unanswered outbound call goes through the same
apply_outcome a Telegram button uses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from crm.calltypes import CallRecord, Disposition
from crm.context import Crm
from crm.deals import ContactDraft, find_or_create_contact, open_deal
from crm.engine import Outcome, Press, Status, apply_outcome
from crm.notices import Notice, NoticeKind, Notifier
from crm.phones import normalize_phone
from storage import queries
from storage.models import Call, Employee, EventKind, Task, TaskStatus, TimelineEvent
from storage.queries import CallTarget

# Which no-answer button an unanswered outbound call presses (SPEC §6, notes/telephony.md).
AUTO_BUTTON = {
    Disposition.BUSY: "busy",
    Disposition.UNAVAILABLE: "unavailable",
    Disposition.NO_ANSWER: "no_pickup",
    Disposition.CANCELLED: "no_pickup",
}
MISSED = (Disposition.CANCELLED, Disposition.NO_ANSWER, Disposition.BUSY)


class Direction(enum.StrEnum):
    OUTBOUND = "out"
    INBOUND = "in"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CallEffect:
    """What recording one call did, for logs and tests."""

    duplicate: bool = False
    direction: Direction = Direction.UNKNOWN
    deal_id: int | None = None
    outcome: Outcome | None = None
    new_lead: bool = False


@dataclass(frozen=True)
class _Sides:
    direction: Direction
    agent: Employee | None
    remote: str


async def _sides(record: CallRecord) -> _Sides:
    """The agent is the side whose user part is an employee's extension."""
    agents = {
        e.sip_ext: e for e in await queries.active_employees_by_ext(record.caller, record.callee)
    }
    if record.caller in agents:
        return _Sides(Direction.OUTBOUND, agents[record.caller], record.callee)
    if record.callee in agents:
        return _Sides(Direction.INBOUND, agents[record.callee], record.caller)
    return _Sides(Direction.UNKNOWN, None, record.callee)


async def record_call(crm: Crm, record: CallRecord, notifier: Notifier) -> CallEffect:
    """Log a finished call on its deal and act on it. A call id seen before changes nothing."""
    sides = await _sides(record)
    e164 = normalize_phone(sides.remote)
    agent_id = sides.agent.id if sides.agent else None
    target = await queries.call_target(e164, agent_id) if e164 else None
    deal_id = target.deal_id if target else None
    try:
        async with in_transaction():
            await Call.create(
                call_id=record.call_id, direction=sides.direction, agent_id=agent_id,
                agent_ext=sides.agent.sip_ext if sides.agent else None, remote=sides.remote,
                remote_e164=e164, contact_id=target.contact_id if target else None,
                deal_id=deal_id, disposition=record.disposition, sip_code=record.sip_code,
                started_at=record.started_at, answered_at=record.answered_at,
                ended_at=record.ended_at, talk_seconds=record.talk_seconds,
            )
            if deal_id is not None:
                await TimelineEvent.create(
                    deal_id=deal_id, kind=EventKind.CALL, at=record.ended_at, actor_id=agent_id,
                    data=_call_data(record, sides.direction),
                )
    except IntegrityError:
        return CallEffect(duplicate=True, direction=sides.direction)

    if sides.agent is None:
        return CallEffect(direction=sides.direction, deal_id=deal_id)
    if sides.direction == Direction.OUTBOUND:
        return await _after_outbound(crm, record, sides.agent, target, notifier)
    return await _after_inbound(crm, record, sides.agent, target, e164, notifier)


def _call_data(record: CallRecord, direction: Direction) -> dict[str, object]:
    return {
        "call_id": record.call_id, "direction": direction,
        "disposition": record.disposition, "sip_code": record.sip_code,
        "talk_seconds": record.talk_seconds,
    }


async def _after_outbound(
    crm: Crm, record: CallRecord, agent: Employee, target: CallTarget | None, notifier: Notifier
) -> CallEffect:
    if target is None or target.deal_id is None or target.task_id is None:
        return CallEffect(direction=Direction.OUTBOUND, deal_id=target.deal_id if target else None)
    deal_id, task_id = target.deal_id, target.task_id
    if record.disposition == Disposition.ANSWERED:
        await notifier.notify(
            Notice(agent.id, NoticeKind.ANSWERED_CALL, task_id=task_id, deal_id=deal_id,
                   params={"talk_seconds": record.talk_seconds})
        )
        return CallEffect(direction=Direction.OUTBOUND, deal_id=deal_id)
    button = AUTO_BUTTON.get(record.disposition)
    if button is None:
        return CallEffect(direction=Direction.OUTBOUND, deal_id=deal_id)
    outcome = await apply_outcome(
        crm,
        Press(task_id, button, agent, source="sip",
              data={"call_id": record.call_id, "sip_code": record.sip_code}),
    )
    if outcome.status == Status.DONE:
        await notifier.notify(
            Notice(
                agent.id, NoticeKind.AUTO_OUTCOME, task_id=outcome.next_task_id, deal_id=deal_id,
                params={
                    "button": button, "sip_code": record.sip_code,
                    "disposition": str(record.disposition), "attempt": outcome.attempt,
                    "due": outcome.next_due.isoformat() if outcome.next_due else None,
                    "stage": outcome.stage,
                },
            )
        )
    return CallEffect(direction=Direction.OUTBOUND, deal_id=deal_id, outcome=outcome)


async def _after_inbound(
    crm: Crm, record: CallRecord, agent: Employee, target: CallTarget | None, e164: str | None,
    notifier: Notifier,
) -> CallEffect:
    deal_id = target.deal_id if target else None
    if record.disposition not in MISSED:
        return CallEffect(direction=Direction.INBOUND, deal_id=deal_id)
    if target is not None and deal_id is not None:
        await notifier.notify(
            Notice(target.owner_id or agent.id, NoticeKind.MISSED_CALL, deal_id=deal_id,
                   params={"number": e164, "sip_code": record.sip_code})
        )
        return CallEffect(direction=Direction.INBOUND, deal_id=deal_id)
    if e164 is None:
        return CallEffect(direction=Direction.INBOUND)
    # A missed call from a stranger is a lead: whoever's phone rang calls back.
    contact, _ = await find_or_create_contact(
        crm, ContactDraft(name=e164, phones=(e164,), source="call"), owner_id=agent.id
    )
    async with in_transaction():  # the lead and the call's link to it, or neither
        lead = await open_deal(
            crm, contact, owner_id=agent.id, team=agent.team, source="call",
            task_kind="callback_missed",
        )
        await Call.filter(call_id=record.call_id).update(contact_id=contact.id, deal_id=lead.id)
        await TimelineEvent.create(
            deal_id=lead.id, kind=EventKind.CALL, at=record.ended_at, actor=agent,
            data=_call_data(record, Direction.INBOUND),
        )
    task = await Task.get(deal_id=lead.id, status=TaskStatus.OPEN)
    await notifier.notify(
        Notice(agent.id, NoticeKind.NEW_LEAD, task_id=task.id, deal_id=lead.id,
               params={"number": e164, "source": "missed_call"})
    )
    return CallEffect(direction=Direction.INBOUND, deal_id=lead.id, new_lead=True)


async def ringing(crm: Crm, caller: str, callee: str, notifier: Notifier) -> int | None:
    """Screen pop: a known client calls an agent's extension; push his card. The deal id."""
    agent = await Employee.get_or_none(sip_ext=callee, active=True)
    e164 = normalize_phone(caller)
    if agent is None or e164 is None:
        return None
    target = await queries.call_target(e164, agent.id)
    if target is None or target.deal_id is None:
        return None
    await notifier.notify(
        Notice(agent.id, NoticeKind.SCREEN_POP, task_id=target.task_id, deal_id=target.deal_id,
               params={"number": e164})
    )
    return target.deal_id
