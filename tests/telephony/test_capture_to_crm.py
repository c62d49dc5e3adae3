"""End to end: real calls through Kamailio land in the store and press the agent's buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.notices import Notice, NoticeKind
from storage.models import Call, Deal, Employee, Role, Task, TaskStatus, TimelineEvent
from telephony.bridge import call_sink, ring_sink
from telephony.listener import SipListener, start_listener
from tests.telephony.kamailio import (
    HEP_AUTH_KEY,
    HEP_CAPTURE_ID,
    Inbox,
    Kamailio,
    place_call,
)

pytestmark = [
    pytest.mark.sip,
    pytest.mark.parametrize("proxy", ["hep"], indirect=True),
]

CLIENT = "+74951234567"


class Notices(Inbox[Notice]):
    """The notifier the domain is given: it collects what agents would be told."""

    async def notify(self, notice: Notice) -> None:
        await self.put(notice)

    async def of_kind(self, kind: NoticeKind) -> Notice:
        return await self.wait_for(lambda n: n.kind == kind)


@pytest.fixture
async def wired(proxy: Kamailio, crm: Crm) -> AsyncIterator[tuple[Notices, SipListener]]:
    notices = Notices()
    listener = await start_listener(
        "127.0.0.1", proxy.capture_port, call_sink(crm, notices),
        capture_ids={HEP_CAPTURE_ID}, auth_key=HEP_AUTH_KEY, on_ring=ring_sink(crm, notices),
    )  # fmt: skip
    yield notices, listener
    await listener.close()


async def _agent_and_deal(crm: Crm) -> tuple[Employee, Deal]:
    agent = await Employee.create(name="agent", role=Role.REP, sip_ext="101")
    added = await quick_add(crm, ContactDraft("Anna", (CLIENT,)), owner_id=agent.id, team="main")
    assert added.deal is not None
    return agent, added.deal


async def test_busy_call_presses_busy_and_tells_the_agent(
    crm: Crm, wired: tuple[Notices, SipListener], proxy: Kamailio, tmp_path: Path
) -> None:
    notices, _ = wired
    agent, deal = await _agent_and_deal(crm)
    # The agent dials the client in the national form the PBX sees.
    call_id = await place_call(
        proxy, "uas_486.xml", "uac_reject.xml", tmp_path, "101", "84951234567"
    )
    notice = await notices.of_kind(NoticeKind.AUTO_OUTCOME)
    assert notice.employee_id == agent.id and notice.params["button"] == "busy"
    assert notice.params["sip_code"] == 486 and notice.params["attempt"] == 1
    closed = await Task.get(deal_id=deal.id, status=TaskStatus.DONE)
    assert closed.outcome == "busy"
    call = await Call.get(call_id=call_id)
    assert (call.disposition, call.sip_code, call.direction) == ("busy", 486, "out")
    event = await TimelineEvent.get(deal_id=deal.id, kind="call")
    assert event.data["disposition"] == "busy"


async def test_answered_call_lands_on_the_timeline_with_talk_time(
    crm: Crm, wired: tuple[Notices, SipListener], proxy: Kamailio, tmp_path: Path
) -> None:
    notices, _ = wired
    _, deal = await _agent_and_deal(crm)
    call_id = await place_call(proxy, "uas_answer.xml", "uac_answer.xml", tmp_path, "101", CLIENT)
    notice = await notices.of_kind(NoticeKind.ANSWERED_CALL)
    assert notice.deal_id == deal.id
    call = await Call.get(call_id=call_id)
    assert call.disposition == "answered" and call.talk_seconds == 1
    assert await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).count() == 1


async def test_ringing_pops_the_card_and_a_missed_stranger_becomes_a_lead(
    crm: Crm, wired: tuple[Notices, SipListener], proxy: Kamailio, tmp_path: Path
) -> None:
    notices, _ = wired
    agent, deal = await _agent_and_deal(crm)
    await place_call(proxy, "uas_ring.xml", "uac_cancel.xml", tmp_path, "84951234567", "101")
    pop = await notices.of_kind(NoticeKind.SCREEN_POP)
    assert pop.deal_id == deal.id and pop.employee_id == agent.id
    await notices.of_kind(NoticeKind.MISSED_CALL)

    await place_call(proxy, "uas_ring.xml", "uac_cancel.xml", tmp_path, "89161234567", "101")
    lead_notice = await notices.of_kind(NoticeKind.NEW_LEAD)
    lead = await Deal.get(id=lead_notice.deal_id)
    task = await Task.get(deal_id=lead.id, status=TaskStatus.OPEN)
    assert lead.source == "call" and task.kind == "callback_missed"
    assert task.assignee_id == agent.id  # type: ignore[attr-defined]
