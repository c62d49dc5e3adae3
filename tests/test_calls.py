"""Finished calls on the pipeline: timeline, auto-pressed buttons, missed-call leads."""

from __future__ import annotations

from datetime import timedelta

from crm.calls import Direction, record_call, ringing
from crm.calltypes import CallRecord, Disposition
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Status
from crm.notices import Notice, NoticeKind
from storage.models import Call, Deal, Employee, Role, Task, TaskStatus, TimelineEvent
from tests.conftest import T0

CLIENT = "+74951234567"


class RecordingNotifier:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)


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
