"""Calls that waited together, written in one transaction (crm.calls.record_calls): each as it
would be alone, and one bad call loses none of the others."""

from __future__ import annotations

from crm.call_outcomes import CallEffect
from crm.calls import record_call, record_calls
from crm.callsides import Direction
from crm.calltypes import Disposition
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Status
from crm.notices import Notice, NoticeKind
from storage.models import Call, Deal, Employee, Task, TaskStatus, TimelineEvent
from tests.recording import RecordingNotifier
from tests.test_calls import CLIENT, _agent_with_deal, _call

OTHER = "+74957654321"


async def _second_deal(crm: Crm, agent: Employee) -> Deal:
    added = await quick_add(crm, ContactDraft("Boris", (OTHER,)), owner_id=agent.id, team="main")
    assert added.deal is not None
    return added.deal


def _effects(effects: list[CallEffect | Exception]) -> list[CallEffect]:
    assert all(isinstance(e, CallEffect) for e in effects), effects
    return [e for e in effects if isinstance(e, CallEffect)]


async def test_a_batch_records_each_call_as_it_would_be_alone(crm: Crm) -> None:
    agent, deal = await _agent_with_deal(crm)
    other = await _second_deal(crm, agent)
    notifier = RecordingNotifier()
    busy, answered, missed = _effects(
        await record_calls(
            crm,
            [
                _call("b1", "101", "84951234567", Disposition.BUSY, 486),
                _call("b2", "101", OTHER, Disposition.ANSWERED, 200, 30),
                _call("b3", "89991234567", "101", Disposition.CANCELLED, 487),
            ],
            notifier,
        )
    )
    assert busy.outcome is not None and busy.outcome.status == Status.DONE
    assert busy.outcome.attempt == 1 and busy.deal_id == deal.id
    assert answered.outcome is None and answered.deal_id == other.id
    assert missed.new_lead and missed.direction == Direction.INBOUND
    assert [n.kind for n in notifier.notices] == [
        NoticeKind.AUTO_OUTCOME, NoticeKind.ANSWERED_CALL, NoticeKind.NEW_LEAD,
    ]  # fmt: skip
    assert await Call.all().order_by("id").values_list("call_id", flat=True) == ["b1", "b2", "b3"]
    for deal_id in (deal.id, other.id, missed.deal_id):
        assert await TimelineEvent.filter(deal_id=deal_id, kind="call").count() == 1
        assert await Task.filter(deal_id=deal_id, status=TaskStatus.OPEN).count() == 1


async def test_two_calls_to_one_client_in_a_batch_act_one_after_the_other(crm: Crm) -> None:
    _, deal = await _agent_with_deal(crm)
    first, second = _effects(
        await record_calls(
            crm,
            [
                _call("t1", "101", CLIENT, Disposition.BUSY, 486),
                _call("t2", "101", CLIENT, Disposition.NO_ANSWER, 408),
            ],
            RecordingNotifier(),
        )
    )
    assert first.outcome is not None and second.outcome is not None
    assert (first.outcome.attempt, second.outcome.attempt) == (1, 2)
    await deal.refresh_from_db()
    assert deal.no_answer_count == 2
    assert await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).count() == 1
    outcomes = await Task.filter(deal_id=deal.id, status=TaskStatus.DONE).order_by("id")
    assert [t.outcome for t in outcomes] == ["busy", "no_pickup"]


async def test_a_call_seen_before_in_a_batch_loses_none_of_the_others(crm: Crm) -> None:
    agent, deal = await _agent_with_deal(crm)
    other = await _second_deal(crm, agent)
    notifier = RecordingNotifier()
    seen = _call("d0", "101", CLIENT, Disposition.BUSY, 486)
    await record_call(crm, seen, notifier)
    first, again, last = _effects(
        await record_calls(
            crm,
            [_call("d1", "101", CLIENT, Disposition.BUSY, 486), seen,
             _call("d2", "101", OTHER, Disposition.BUSY, 486)],
            notifier,
        )
    )  # fmt: skip
    assert again.duplicate and not first.duplicate and not last.duplicate
    assert first.outcome is not None and first.outcome.attempt == 2  # d0 was the first
    assert last.outcome is not None and last.outcome.status == Status.DONE
    await deal.refresh_from_db()
    await other.refresh_from_db()
    assert (deal.no_answer_count, other.no_answer_count) == (2, 1)
    assert await Call.all().count() == 3
    assert await TimelineEvent.filter(kind="call").count() == 3


class FailingFor:
    """A notifier that fails for one deal: the bot is down when that call is told."""

    def __init__(self, deal_id: int) -> None:
        self.deal_id = deal_id
        self.notices: list[Notice] = []

    async def notify(self, notice: Notice) -> None:
        if notice.deal_id == self.deal_id:
            raise RuntimeError("bot down")
        self.notices.append(notice)


async def test_a_call_that_fails_after_its_write_is_told_alone(crm: Crm) -> None:
    agent, deal = await _agent_with_deal(crm)
    other = await _second_deal(crm, agent)
    notifier = FailingFor(deal.id)
    first, second = await record_calls(
        crm,
        [_call("f1", "101", CLIENT, Disposition.BUSY, 486),
         _call("f2", "101", OTHER, Disposition.BUSY, 486)],
        notifier,
    )  # fmt: skip
    assert isinstance(first, RuntimeError)
    assert isinstance(second, CallEffect) and second.deal_id == other.id
    assert [n.deal_id for n in notifier.notices] == [other.id]
    assert await Call.all().count() == 2  # both written: the failure came after the commit


async def test_a_second_missed_call_from_a_stranger_in_a_batch_finds_his_new_lead(
    crm: Crm,
) -> None:
    agent, deal = await _agent_with_deal(crm)
    notifier = RecordingNotifier()
    stranger = "89991234567"
    first, second, busy = _effects(
        await record_calls(
            crm,
            [_call("m1", stranger, "101", Disposition.CANCELLED, 487),
             _call("m2", stranger, "101", Disposition.NO_ANSWER, 408),
             _call("m3", "101", CLIENT, Disposition.BUSY, 486)],
            notifier,
        )
    )  # fmt: skip
    assert first.new_lead and not second.new_lead and second.deal_id == first.deal_id
    assert busy.outcome is not None and busy.outcome.status == Status.DONE
    assert busy.deal_id == deal.id
    assert [n.kind for n in notifier.notices] == [
        NoticeKind.NEW_LEAD, NoticeKind.MISSED_CALL, NoticeKind.AUTO_OUTCOME,
    ]  # fmt: skip
    assert await Deal.filter(source="call").count() == 1
    assert await TimelineEvent.filter(deal_id=first.deal_id, kind="call").count() == 2
    assert agent.id == (await Deal.get(id=first.deal_id)).owner_id  # type: ignore[attr-defined]
