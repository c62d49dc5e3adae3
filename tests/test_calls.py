"""Finished calls on the pipeline: timeline, auto-pressed buttons, missed-call leads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from crm import engine
from crm.call_outcomes import Logged
from crm.calls import record_call, ringing
from crm.callsides import Direction
from crm.calltypes import CallRecord, Disposition
from crm.context import Crm
from crm.deals import ContactDraft, open_deal, quick_add
from crm.engine import Status
from crm.notices import NoticeKind
from storage import writes
from storage.models import (
    Call,
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
from storage.writes import EventRow
from tests.conftest import T0
from tests.recording import RecordingNotifier

CLIENT = "+74951234567"


def _call(
    call_id: str,
    caller: str,
    callee: str,
    disposition: Disposition,
    code: int | None,
    talk: int = 0,
) -> CallRecord:
    answered = T0 + timedelta(seconds=5) if disposition == Disposition.ANSWERED else None
    return CallRecord(
        call_id=call_id,
        caller=caller,
        callee=callee,
        disposition=disposition,
        sip_code=code,
        started_at=T0,
        rang=True,
        answered_at=answered,
        ended_at=T0 + timedelta(seconds=5 + talk),
    )


async def _agent_with_deal(crm: Crm) -> tuple[Employee, Deal]:
    agent = await Employee.create(name="agent", role=Role.REP, sip_ext="101")
    added = await quick_add(crm, ContactDraft("Anna", (CLIENT,)), owner_id=agent.id, team="main")
    assert added.deal is not None
    return agent, added.deal


async def test_busy_outbound_call_presses_busy_for_the_agent(crm: Crm) -> None:
    agent, deal = await _agent_with_deal(crm)
    notifier = RecordingNotifier()
    # The agent dials the number in a local form; it still matches the contact's E.164.
    effect = await record_call(
        crm, _call("c1", "101", "84951234567", Disposition.BUSY, 486), notifier
    )
    assert effect.direction == Direction.OUTBOUND and effect.outcome is not None
    assert effect.outcome.status == Status.DONE and effect.outcome.attempt == 1
    await deal.refresh_from_db()
    assert deal.no_answer_count == 1
    closed = await Task.get(deal_id=deal.id, status=TaskStatus.DONE)
    assert closed.outcome == "busy"
    [notice] = notifier.notices
    assert notice.kind == NoticeKind.AUTO_OUTCOME and notice.employee_id == agent.id
    assert notice.params["button"] == "busy" and notice.params["sip_code"] == 486
    call_event = await TimelineEvent.get(deal_id=deal.id, kind="call")
    assert call_event.data["disposition"] == "busy" and call_event.data["sip_code"] == 486


async def test_cancelled_outbound_call_is_no_pickup(crm: Crm) -> None:
    _, deal = await _agent_with_deal(crm)
    notifier = RecordingNotifier()
    await record_call(
        crm, _call("c2", "101", "+7 495 123-45-67", Disposition.CANCELLED, 487), notifier
    )
    assert (await Task.get(deal_id=deal.id, status=TaskStatus.DONE)).outcome == "no_pickup"


async def test_answered_call_asks_the_agent_for_the_outcome(crm: Crm) -> None:
    _, deal = await _agent_with_deal(crm)
    notifier = RecordingNotifier()
    await record_call(
        crm, _call("c3", "101", "74951234567", Disposition.ANSWERED, 200, 42), notifier
    )
    assert await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).count() == 1
    [notice] = notifier.notices
    assert notice.kind == NoticeKind.ANSWERED_CALL
    call = await Call.get(call_id="c3")
    assert call.talk_seconds == 42 and call.deal_id == deal.id  # type: ignore[attr-defined]


async def test_the_same_call_twice_changes_nothing(crm: Crm) -> None:
    _, deal = await _agent_with_deal(crm)
    notifier = RecordingNotifier()
    record = _call("c4", "101", CLIENT, Disposition.BUSY, 486)
    await record_call(crm, record, notifier)
    again = await record_call(crm, record, notifier)
    assert again.duplicate
    await deal.refresh_from_db()
    assert deal.no_answer_count == 1 and len(notifier.notices) == 1


async def test_missed_call_from_a_stranger_becomes_a_lead(crm: Crm) -> None:
    agent = await Employee.create(name="agent", role=Role.REP, sip_ext="102")
    notifier = RecordingNotifier()
    effect = await record_call(
        crm, _call("c5", "89991234567", "102", Disposition.CANCELLED, 487), notifier
    )
    assert effect.new_lead and effect.direction == Direction.INBOUND
    lead = await Deal.get(id=effect.deal_id)
    task = await Task.get(deal_id=lead.id, status=TaskStatus.OPEN)
    assert task.kind == "callback_missed" and task.assignee_id == agent.id  # type: ignore[attr-defined]
    assert lead.source == "call"
    assert [n.kind for n in notifier.notices] == [NoticeKind.NEW_LEAD]


async def test_missed_call_from_a_client_tells_the_owner(crm: Crm) -> None:
    await _agent_with_deal(crm)
    notifier = RecordingNotifier()
    await record_call(crm, _call("c6", CLIENT, "101", Disposition.NO_ANSWER, 408), notifier)
    assert [n.kind for n in notifier.notices] == [NoticeKind.MISSED_CALL]
    assert await Deal.all().count() == 1


async def test_ringing_pops_the_clients_card(crm: Crm) -> None:
    _, deal = await _agent_with_deal(crm)
    notifier = RecordingNotifier()
    assert await ringing(crm, "8 495 123 45 67", "101", notifier) == deal.id
    assert notifier.notices[0].kind == NoticeKind.SCREEN_POP
    assert await ringing(crm, "+79990000000", "101", notifier) is None


async def _archive(deal: Deal) -> None:
    """The deal leaves the pipeline the way the ladder's last step takes it: task closed too."""
    await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).update(status=TaskStatus.DONE)
    await Deal.filter(id=deal.id).update(status=DealStatus.ARCHIVED, stage="archive")


async def _colleague_deal(crm: Crm, name: str, ext: str, team: str) -> tuple[Employee, Deal]:
    """Another rep's open deal with the same client (the contact of CLIENT)."""
    rep = await Employee.create(name=name, role=Role.REP, sip_ext=ext, team=team)
    contact = await Contact.get(phones__e164=CLIENT)
    return rep, await open_deal(crm, contact, owner_id=rep.id, team=team)


async def test_a_call_goes_to_the_agents_own_deal_before_a_colleagues(crm: Crm) -> None:
    _, own = await _agent_with_deal(crm)
    await _colleague_deal(crm, "Boris", "102", "main")  # newer, same team
    effect = await record_call(
        crm, _call("o1", "101", CLIENT, Disposition.BUSY, 486), RecordingNotifier()
    )
    assert effect.deal_id == own.id and effect.outcome is not None
    assert effect.outcome.status == Status.DONE


async def test_after_his_deal_is_archived_a_busy_call_lands_on_the_teammates_card(
    crm: Crm,
) -> None:
    """The agent's deal with the number is archived; a teammate works the client now. The call
    goes on the teammate's deal, whose task the agent may not press: he is told where it went,
    and the owner's card shows who called."""
    agent, own = await _agent_with_deal(crm)
    await _archive(own)
    owner, theirs = await _colleague_deal(crm, "Boris", "102", "main")
    notifier = RecordingNotifier()
    effect = await record_call(crm, _call("a1", "101", CLIENT, Disposition.BUSY, 486), notifier)

    assert effect.deal_id == theirs.id and effect.logged == Logged.NOT_OWNER
    assert effect.outcome is not None and effect.outcome.status == Status.FORBIDDEN
    task = await Task.get(deal_id=theirs.id)
    assert task.status == TaskStatus.OPEN and task.outcome is None  # not pressed for the owner
    [notice] = notifier.notices
    assert notice.kind == NoticeKind.CALL_LOGGED and notice.employee_id == agent.id
    assert notice.deal_id == theirs.id and notice.params["owner_id"] == owner.id
    assert notice.params["button"] == "busy" and notice.params["logged"] == "not_owner"
    event = await TimelineEvent.get(deal_id=theirs.id, kind="call")
    assert event.data["agent"] == "agent" and event.actor_id == agent.id  # type: ignore[attr-defined]
    assert (await Call.get(call_id="a1")).deal_id == theirs.id  # type: ignore[attr-defined]


async def test_a_deal_of_another_team_does_not_take_the_call(crm: Crm) -> None:
    agent, own = await _agent_with_deal(crm)
    await _archive(own)
    _, foreign = await _colleague_deal(crm, "Vera", "201", "wholesale")
    notifier = RecordingNotifier()
    effect = await record_call(
        crm, _call("t1", "101", CLIENT, Disposition.NO_ANSWER, 408), notifier
    )

    assert effect.deal_id is None and effect.logged == Logged.NO_DEAL
    call = await Call.get(call_id="t1")
    assert call.deal_id is None and call.contact_id == own.contact_id  # type: ignore[attr-defined]
    assert not await TimelineEvent.filter(kind="call").exists()
    assert (await Task.get(deal_id=foreign.id)).status == TaskStatus.OPEN
    [notice] = notifier.notices
    assert notice.kind == NoticeKind.CALL_LOGGED and notice.employee_id == agent.id
    assert notice.deal_id is None and notice.params["contact_id"] == own.contact_id  # type: ignore[attr-defined]


async def test_a_supervisor_calling_a_reps_client_presses_for_him(crm: Crm) -> None:
    _, deal = await _agent_with_deal(crm)
    await Employee.create(name="Sofia", role=Role.SUPERVISOR, sip_ext="301", team="main")
    effect = await record_call(
        crm, _call("s1", "301", CLIENT, Disposition.BUSY, 486), RecordingNotifier()
    )
    assert effect.deal_id == deal.id and effect.outcome is not None
    assert effect.outcome.status == Status.DONE and effect.logged is None


async def test_an_answered_call_on_a_teammates_deal_is_logged_not_offered_to_press(
    crm: Crm,
) -> None:
    _, own = await _agent_with_deal(crm)
    await _archive(own)
    _, theirs = await _colleague_deal(crm, "Boris", "102", "main")
    notifier = RecordingNotifier()
    await record_call(crm, _call("n1", "101", CLIENT, Disposition.ANSWERED, 200, 30), notifier)
    [notice] = notifier.notices
    assert notice.kind == NoticeKind.CALL_LOGGED and notice.deal_id == theirs.id
    assert notice.params["logged"] == "not_owner"


async def test_a_press_that_fails_keeps_the_call(crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    """The press shares the call's transaction: it rolls back, and the call is written alone,
    once, with its timeline line."""
    agent, deal = await _agent_with_deal(crm)

    insert_events = writes.insert_events

    async def stale(events: Sequence[EventRow]) -> None:
        if any(e.kind == EventKind.OUTCOME for e in events):
            raise engine._Stale  # as when the deal changed under the press after its first writes
        await insert_events(events)

    monkeypatch.setattr(writes, "insert_events", stale)
    notifier = RecordingNotifier()
    effect = await record_call(crm, _call("f1", "101", CLIENT, Disposition.BUSY, 486), notifier)

    assert effect.outcome is not None and effect.outcome.status == Status.ALREADY_HANDLED
    task = await Task.get(deal_id=deal.id)
    assert task.status == TaskStatus.OPEN and task.outcome is None
    await deal.refresh_from_db()
    assert deal.no_answer_count == 0
    assert (await Call.get(call_id="f1")).deal_id == deal.id  # type: ignore[attr-defined]
    assert await TimelineEvent.filter(deal_id=deal.id, kind="call").count() == 1
    [notice] = notifier.notices
    assert notice.kind == NoticeKind.CALL_LOGGED and notice.employee_id == agent.id
    assert notice.params["logged"] == "closed"


async def test_a_press_that_breaks_keeps_the_call(
    crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only a stale press: whatever the press raises, the call and its line are kept."""
    _agent, deal = await _agent_with_deal(crm)
    insert_events = writes.insert_events

    async def broken(events: Sequence[EventRow]) -> None:
        if any(e.kind == EventKind.OUTCOME for e in events):
            raise RuntimeError("a bug in the press")
        await insert_events(events)

    monkeypatch.setattr(writes, "insert_events", broken)
    effect = await record_call(
        crm, _call("b1", "101", CLIENT, Disposition.BUSY, 486), RecordingNotifier()
    )

    assert effect.outcome is None
    assert (await Task.get(deal_id=deal.id)).status == TaskStatus.OPEN
    assert (await Call.get(call_id="b1")).deal_id == deal.id  # type: ignore[attr-defined]
    assert await TimelineEvent.filter(deal_id=deal.id, kind="call").count() == 1


async def test_a_missed_call_from_a_client_with_no_open_deal_opens_one(crm: Crm) -> None:
    agent, own = await _agent_with_deal(crm)
    await _archive(own)
    notifier = RecordingNotifier()
    effect = await record_call(
        crm, _call("m1", CLIENT, "101", Disposition.CANCELLED, 487), notifier
    )

    assert effect.new_lead and effect.deal_id not in (None, own.id)
    lead = await Deal.get(id=effect.deal_id)
    assert lead.contact_id == own.contact_id and lead.owner_id == agent.id  # type: ignore[attr-defined]
    assert await Contact.all().count() == 1
    assert [n.kind for n in notifier.notices] == [NoticeKind.NEW_LEAD]


async def test_a_missed_call_from_another_teams_client_stays_on_the_contact(crm: Crm) -> None:
    agent, own = await _agent_with_deal(crm)
    await _archive(own)
    await _colleague_deal(crm, "Vera", "201", "wholesale")
    notifier = RecordingNotifier()
    effect = await record_call(
        crm, _call("m2", CLIENT, "101", Disposition.NO_ANSWER, 408), notifier
    )

    assert not effect.new_lead and effect.logged == Logged.NO_DEAL
    assert await Deal.filter(status=DealStatus.OPEN).count() == 1
    assert (await Call.get(call_id="m2")).contact_id == own.contact_id  # type: ignore[attr-defined]
    [notice] = notifier.notices
    assert notice.kind == NoticeKind.MISSED_CALL and notice.employee_id == agent.id


async def test_a_busy_call_ends_the_ladder_in_a_stage_that_requires_a_field(crm: Crm) -> None:
    # The listener cannot be asked for the field archive requires: asked anyway, the deal stayed
    # at the ladder's last step for every later call, and the agent was told "handled meanwhile".
    data = crm.playbook.model_dump()
    for spec in data["fields"]:
        if spec["key"] == "product":
            spec["required_in"] = ["archive"]
    crm = Crm(type(crm.playbook).model_validate(data), crm.clock)
    _, deal = await _agent_with_deal(crm)
    await Deal.filter(id=deal.id).update(no_answer_count=4)
    effect = await record_call(
        crm, _call("c-last", "101", CLIENT, Disposition.BUSY, 486), RecordingNotifier()
    )
    assert effect.outcome is not None and effect.outcome.status == Status.DONE
    await deal.refresh_from_db()
    assert deal.stage == "archive" and deal.status != DealStatus.OPEN
