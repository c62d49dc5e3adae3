"""What follows a logged call: the button a missed outbound call presses, the agent told what
it did, a missed inbound call's lead.

crm/calls.py writes the call (and the press) first; this is what comes after its commit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from crm.callsides import Direction, Sides
from crm.calltypes import CallRecord, Disposition
from crm.context import Crm
from crm.deals import ContactDraft, find_or_create_contact, open_deal
from crm.engine import Outcome, Status
from crm.notices import Notice, NoticeKind, Notifier
from crm.permissions import can_act_on
from storage.models import (
    Call,
    Contact,
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Task,
    TaskStatus,
    TimelineEvent,
)
from storage.targets import CallTarget

# Which no-answer button an unanswered outbound call presses (SPEC §6, notes/telephony.md).
AUTO_BUTTON = {
    Disposition.BUSY: "busy",
    Disposition.UNAVAILABLE: "unavailable",
    Disposition.NO_ANSWER: "no_pickup",
    Disposition.CANCELLED: "no_pickup",
}
MISSED = (Disposition.CANCELLED, Disposition.NO_ANSWER, Disposition.BUSY)


class Logged(enum.StrEnum):
    """Why an agent's call was only logged, not acted on: what a CALL_LOGGED notice explains."""

    NOT_OWNER = "not_owner"  # another rep's deal of the team: the call is on that owner's card
    CLOSED = "closed"  # the task was handled meanwhile: the call is on the deal's card
    NOT_OFFERED = "not_offered"  # the deal's stage does not offer the button
    NO_DEAL = "no_deal"  # no open deal of the agent's team: logged on the contact


@dataclass(frozen=True)
class CallEffect:
    """What recording one call did, for logs and tests."""

    duplicate: bool = False
    direction: Direction = Direction.UNKNOWN
    deal_id: int | None = None
    outcome: Outcome | None = None
    new_lead: bool = False
    logged: Logged | None = None


async def follow_up(
    crm: Crm, record: CallRecord, sides: Sides, e164: str | None, target: CallTarget | None,
    outcome: Outcome | None, notifier: Notifier,
) -> CallEffect:
    """What follows a logged call: the agent told, a missed call's lead."""
    agent = sides.agent
    if agent is None:
        return CallEffect(direction=sides.direction, deal_id=target.deal_id if target else None)
    if sides.direction == Direction.OUTBOUND:
        return await _after_outbound(record, agent, target, outcome, notifier)
    return await _after_inbound(crm, record, agent, target, e164, notifier)


def call_line_data(
    record: CallRecord, direction: Direction, agent: Employee | None, owner_id: int | None
) -> dict[str, object]:
    """The data of the call's line on a deal's timeline."""
    data: dict[str, object] = {
        "call_id": record.call_id, "direction": direction,
        "disposition": record.disposition, "sip_code": record.sip_code,
        "talk_seconds": record.talk_seconds,
    }
    if agent is not None and agent.id != owner_id:
        data["agent"] = agent.name  # the owner's card says who called his client
    return data


async def _after_outbound(
    record: CallRecord, agent: Employee, target: CallTarget | None, outcome: Outcome | None,
    notifier: Notifier,
) -> CallEffect:
    if target is None:  # a number the CRM does not know
        return CallEffect(direction=Direction.OUTBOUND)
    deal_id, task_id = target.deal_id, target.task_id
    button = AUTO_BUTTON.get(record.disposition)
    answered = record.disposition == Disposition.ANSWERED
    if outcome is not None and outcome.status == Status.DONE:
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
    if button is None and not answered:  # failed: nothing to press or to choose
        return CallEffect(direction=Direction.OUTBOUND, deal_id=deal_id)
    mine = target.team is not None and can_act_on(agent, target.owner_id, target.team)
    if answered and task_id is not None and mine:
        await notifier.notify(
            Notice(agent.id, NoticeKind.ANSWERED_CALL, task_id=task_id, deal_id=deal_id,
                   params={"talk_seconds": record.talk_seconds})
        )
        return CallEffect(direction=Direction.OUTBOUND, deal_id=deal_id)
    logged = _why_logged(target, outcome, mine)
    await notifier.notify(
        Notice(
            agent.id, NoticeKind.CALL_LOGGED, deal_id=deal_id,
            params={
                "logged": str(logged), "button": button, "disposition": str(record.disposition),
                "sip_code": record.sip_code, "owner_id": target.owner_id,
                "contact_id": target.contact_id,
            },
        )
    )
    return CallEffect(
        direction=Direction.OUTBOUND, deal_id=deal_id, outcome=outcome, logged=logged
    )


def _why_logged(target: CallTarget, outcome: Outcome | None, mine: bool) -> Logged:
    if target.deal_id is None:
        return Logged.NO_DEAL
    if not mine or (outcome is not None and outcome.status == Status.FORBIDDEN):
        return Logged.NOT_OWNER
    if outcome is not None and outcome.status == Status.NOT_OFFERED:
        return Logged.NOT_OFFERED
    return Logged.CLOSED


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
    if target is not None and await Deal.exists(
        contact_id=target.contact_id, status=DealStatus.OPEN
    ):
        # The client's open deal is another team's: the call stays on the contact.
        await notifier.notify(
            Notice(agent.id, NoticeKind.MISSED_CALL,
                   params={"number": e164, "sip_code": record.sip_code})
        )
        return CallEffect(direction=Direction.INBOUND, logged=Logged.NO_DEAL)
    # A missed call from a stranger, or from a client with no open deal, is a lead: whoever's
    # phone rang calls back.
    if target is not None:
        contact = await Contact.get(id=target.contact_id)
    else:
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
            data=call_line_data(record, Direction.INBOUND, agent, agent.id),
        )
    task = await Task.get(deal_id=lead.id, status=TaskStatus.OPEN)
    await notifier.notify(
        Notice(agent.id, NoticeKind.NEW_LEAD, task_id=task.id, deal_id=lead.id,
               params={"number": e164, "source": "missed_call"})
    )
    return CallEffect(direction=Direction.INBOUND, deal_id=lead.id, new_lead=True)
