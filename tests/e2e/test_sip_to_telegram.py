"""A real call through Kamailio ends with the agent told on Telegram, by the real App.

Kamailio mirrors both legs as HEP v3 to the App's own SIP listener (settings.sip_listen); sipp
plays the agent's phone and the client's; the fake Bot API validates what the App sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.callbacks import TaskAction
from bot.cards import viewer_zone
from crm.clock import FakeClock
from crm.deals import ContactDraft, open_deal, quick_add
from storage.models import Call as CallRow
from storage.models import Contact, Deal, DealStatus, Task, TaskStatus, TimelineEvent
from tests.e2e.conftest import HarnessFactory
from tests.e2e.harness import Harness, Staff
from tests.fakes import Call
from tests.telephony.kamailio import (
    HEP_AUTH_KEY,
    HEP_CAPTURE_ID,
    Kamailio,
    free_udp_port,
    place_call,
    start_kamailio,
)

pytestmark = [
    pytest.mark.sip,
]

CLIENT = "+74951234567"  # a Moscow landline: the client's zone is known
CLIENT_NAME = "Анна Петрова"
TOLD_WITHIN = 10.0  # seconds from the call's end to the agent's message
Json = dict[str, Any]


@pytest.fixture
def clock() -> FakeClock:
    # The listener takes a HEP packet's own capture time only near the App's clock, so the App
    # stands at the real now: talk time then comes from Kamailio's timestamps.
    return FakeClock(datetime.now(UTC))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    """One Kamailio for the module, mirroring to a port each test's App listens on in turn."""
    kamailio = start_kamailio(tmp_path_factory.mktemp("kamailio-e2e"), "hep", free_udp_port())
    yield kamailio
    kamailio.stop()


@dataclass
class Desk:
    """The running App, agent 101 joined through an invite, and his client's deal."""

    h: Harness
    proxy: Kamailio
    agent: Staff
    deal: Deal
    workdir: Path

    async def call(self, uas: str, uac: str, from_user: str, to_user: str) -> str:
        return await place_call(self.proxy, uas, uac, self.workdir, from_user, to_user)

    async def told(self, words: str, since: int) -> Json:
        """The first message to the agent after `since` (an index into api.sent) with `words`."""

        def wanted(call: Call) -> bool:
            return (
                call.ok and call.method.lower() == "sendmessage"
                and call.chat_id == self.agent.user.id and words in _text(call)
            )

        try:
            found = await self.h.api.wait_for(wanted, timeout=TOLD_WITHIN, since=since)
        except AssertionError as error:
            raise AssertionError(f"the agent was not told {words!r}: {error}") from None
        return dict(found.result)

    def mark(self) -> int:
        return len(self.h.api.sent)


def _text(call: Call) -> str:
    return str(call.result.get("text", "")) if isinstance(call.result, dict) else ""


def _pressable_tasks(message: Json) -> set[int]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    data = [str(button.get("callback_data", "")) for row in rows for button in row]
    return {TaskAction.unpack(d).task for d in data if d.startswith(f"{TaskAction.__prefix__}:")}


@pytest_asyncio.fixture
async def desk(
    make_harness: HarnessFactory, proxy: Kamailio, tmp_path: Path
) -> AsyncIterator[Desk]:
    async with make_harness(
        sip_listen=f"127.0.0.1:{proxy.capture_port}", hep_capture_ids=[HEP_CAPTURE_ID],
        hep_auth_key=HEP_AUTH_KEY.decode(),
    ) as h:
        agent = await h.make_employee("rep", name="Agent", sip_ext="101")  # --sip-ext 101
        added = await quick_add(
            h.running.crm, ContactDraft(CLIENT_NAME, (CLIENT,)), owner_id=agent.employee.id,
            team=agent.employee.team,
        )
        assert added.deal is not None
        yield Desk(h, proxy, agent, added.deal, tmp_path)


async def test_a_busy_client_presses_busy_and_the_agent_reads_the_next_call(desk: Desk) -> None:
    since = desk.mark()
    # The agent dials the client in the national form the PBX sees; the client is busy.
    await desk.call("uas_486.xml", "uac_reject.xml", "101", "84951234567")
    message = await desk.told("SIP 486", since)

    closed = await Task.get(deal_id=desk.deal.id, status=TaskStatus.DONE)
    next_call = await Task.get(deal_id=desk.deal.id, status=TaskStatus.OPEN)
    assert closed.outcome == "busy" and next_call.attempt == 1
    zone = viewer_zone(desk.h.running.crm.playbook, desk.agent.employee)
    head, scheduled = message["text"].split("\n")[:2]
    assert head == "📞 Занято (SIP 486), попытка 1/5"
    assert scheduled.startswith("Следующий звонок: ")
    assert scheduled.endswith(next_call.due_at.astimezone(zone).strftime("%H:%M"))
    # The card of the next call, to press on.
    assert CLIENT_NAME in message["text"] and _pressable_tasks(message) == {next_call.id}


async def test_a_ringing_client_pops_his_card_before_the_missed_call(desk: Desk) -> None:
    since = desk.mark()
    # The client calls 101, it rings, he hangs up before anyone answers.
    await desk.call("uas_ring.xml", "uac_cancel.xml", "84951234567", "101")
    pop = await desk.told("Входящий звонок", since)
    missed = await desk.told("Пропущенный звонок с +7 495 123-45-67", since)

    assert pop["message_id"] < missed["message_id"]
    task = await Task.get(deal_id=desk.deal.id, status=TaskStatus.OPEN)
    for message in (pop, missed):
        assert CLIENT_NAME in message["text"] and _pressable_tasks(message) == {task.id}
    # One ring, one pop: the 180 seen on both legs does not pop the card twice.
    to_agent = [
        c for c in desk.h.api.sent[since:]
        if c.ok and c.method.lower() == "sendmessage" and c.chat_id == desk.agent.user.id
    ]
    assert len(to_agent) == 2


async def test_a_missed_stranger_becomes_a_lead_to_call_back(desk: Desk) -> None:
    since = desk.mark()
    call_id = await desk.call("uas_ring.xml", "uac_cancel.xml", "89161234567", "101")
    message = await desk.told("Новый лид", since)

    call = await CallRow.get(call_id=call_id)
    lead = await Deal.get(id=call.deal_id)  # type: ignore[attr-defined]
    task = await Task.get(deal_id=lead.id, status=TaskStatus.OPEN)
    assert lead.source == "call" and lead.id != desk.deal.id
    assert task.kind == "callback_missed" and task.assignee_id == desk.agent.employee.id  # type: ignore[attr-defined]
    assert message["text"].split("\n")[:2] == [
        "🆕 Новый лид", "☎️ Пропущенный звонок с +7 916 123-45-67: перезвоните",
    ]
    assert "Перезвонить на пропущенный" in message["text"]
    assert _pressable_tasks(message) == {task.id}


async def test_an_answered_call_brings_the_card_with_the_talk_time(desk: Desk) -> None:
    since = desk.mark()
    call_id = await desk.call("uas_answer.xml", "uac_answer.xml", "101", CLIENT)
    message = await desk.told("Звонок состоялся: выберите результат", since)

    call = await CallRow.get(call_id=call_id)
    assert call.disposition == "answered" and call.talk_seconds >= 1
    event = await TimelineEvent.get(deal_id=desk.deal.id, kind="call")
    assert event.data["talk_seconds"] == call.talk_seconds
    # The card's timeline shows the call with its talk time; the task waits for a choice.
    assert f"Звонок: разговор, {call.talk_seconds} с" in message["text"]
    task = await Task.get(deal_id=desk.deal.id, status=TaskStatus.OPEN)
    assert _pressable_tasks(message) == {task.id}


async def test_after_his_deal_is_archived_a_busy_call_is_logged_on_the_teammates_card(
    desk: Desk,
) -> None:
    """The agent's deal with the client was archived; a teammate works the client now. The call
    goes on the teammate's deal, not pressed for him: the agent is told where it went, without
    buttons he may not press, and the owner finds the call on his card."""
    await Task.filter(deal_id=desk.deal.id).update(status=TaskStatus.DONE)
    await Deal.filter(id=desk.deal.id).update(status=DealStatus.ARCHIVED, stage="archive")
    owner = await desk.h.make_employee("rep", name="Борис", sip_ext="102")
    contact = await Contact.get(phones__e164=CLIENT)
    theirs = await open_deal(
        desk.h.running.crm, contact, owner_id=owner.employee.id, team=owner.employee.team
    )

    since = desk.mark()
    await desk.call("uas_486.xml", "uac_reject.xml", "101", "84951234567")
    message = await desk.told("SIP 486", since)

    head, why = message["text"].split("\n")[:2]
    assert head == "📞 Занято (SIP 486): не отмечено"
    assert why == "Сделка менеджера Борис: звонок записан на его карточку"
    assert CLIENT_NAME in message["text"] and _pressable_tasks(message) == set()
    task = await Task.get(deal_id=theirs.id)
    assert task.status == TaskStatus.OPEN and task.outcome is None
    # The owner's card shows who called his client and how it went.
    card = await desk.h.say(owner.user, "/next")
    assert "Звонок (Agent): занято, 0 с" in card.text
    assert _pressable_tasks(card.last) == {task.id}
