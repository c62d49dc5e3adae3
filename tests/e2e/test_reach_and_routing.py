"""Trust end to end (SQLite and PostgreSQL): a rep who blocked the bot is skipped, reported once
and back on his next update; every client lead reaches its configured team, and one nobody there
can take is raised to the supervisors at once and again after working time; leads arriving at
once split evenly."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm.deals import ContactDraft, open_deal
from crm.deals import find_or_create_contact as contact_of
from crm.leads import set_shift
from crm.staff import disable_employee
from storage.models import Deal, Employee, Task, TaskStatus
from tests.e2e.conftest import HarnessFactory
from tests.e2e.harness import CLIENT_TOKEN, Exchange, Harness, Staff

MOSCOW = ZoneInfo("Europe/Moscow")
Json = dict[str, Any]


@pytest.fixture
async def sales_bot(make_harness: HarnessFactory) -> AsyncIterator[Harness]:
    """A client bot whose leads go to team "sales" (NEXTSTEP_CLIENT_BOT_TEAM)."""
    async with make_harness(client_bot_token=CLIENT_TOKEN, client_bot_team="sales") as h:
        yield h


async def _lead_from(h: Harness, name: str) -> tuple[Deal, Exchange]:
    said = await h.say(h.user(name), "Hello, I need a quote", via=h.client_api)
    return await Deal.all().order_by("-id").first(), said  # type: ignore[return-value]


async def _ivans_deal(h: Harness, rep: Staff) -> Deal:
    """The rep's deal with the client Ivan."""
    crm = h.running.crm
    contact, _ = await contact_of(crm, ContactDraft(name="Ivan", phones=("+74951234567",)))
    return await open_deal(crm, contact, owner_id=rep.employee.id, team="main")


def _texts(exchange: Exchange, chat_id: int) -> list[str]:
    return [str(m.get("text") or "") for m in exchange.to(chat_id)]


def _waiting(exchange: Exchange, chat_id: int) -> list[Json]:
    """The lead-waiting alerts among what a supervisor got (not his daily digest, say)."""
    return [m for m in exchange.to(chat_id) if str(m.get("text")).startswith("⏳")]


async def test_a_rep_who_blocked_the_bot_is_skipped_reported_once_and_back_when_he_writes(
    harness: Harness,
) -> None:
    h = harness
    boss = await h.make_employee("supervisor", name="Boss")
    anna = await h.make_employee("rep", name="Anna")
    boris = await h.make_employee("rep", name="Boris")
    deal = await _ivans_deal(h, anna)

    h.api.block(anna.user.id)
    blocked = await h.tick()  # her due card: 403
    assert [(c.method, c.error_code) for c in blocked.calls if c.chat_id == anna.user.id] == [
        ("sendMessage", 403)
    ]
    [told] = [m for m in blocked.to(boss.user.id) if m["text"].startswith("📵")]
    assert told["text"].startswith("📵 Anna заблокировал бота")
    assert "Открытых задач: 1" in told["text"] and "1. Ivan · " in told["text"]
    assert [b["text"] for row in told["reply_markup"]["inline_keyboard"] for b in row] == [
        "Передать 1"
    ]
    assert (await h.tick()).calls == []  # told once; her card is not tried again meanwhile
    picker = await h.press_text(boss.user, told, "Передать 1")
    assert [b["text"] for b in picker.buttons] == ["Boris"]  # not to her while she is away

    # Round robin would give Anna the next lead (Boris joined after her): she is skipped.
    for n in range(2):
        await h.say(h.user(f"Client {n}"), "hi")
    owners = await Deal.exclude(id=deal.id).values_list("owner_id", flat=True)
    assert owners == [boris.employee.id] * 2

    # She unblocks and writes: reachable again, her due card comes on the next tick, and she is
    # back in the rotation.
    h.api.unblock(anna.user.id)
    await h.say(anna.user, "/start")
    assert (await Employee.get(id=anna.employee.id)).reachable
    back = await h.tick()
    assert any("Ivan" in text for text in _texts(back, anna.user.id))
    await h.say(h.user("Client 3"), "hi")
    assert (await Deal.all().order_by("-id").first()).owner_id == anna.employee.id  # type: ignore[union-attr]

    # The report's Reassign button works: the boss gives her deal to Boris, who gets the card.
    moved = await h.press_text(boss.user, picker.last, "Boris")
    assert "«Ivan» → Boris" in moved.text
    assert any("Ivan" in text for text in _texts(moved, boris.user.id))  # the card, at once
    assert _texts(await h.tick(), boris.user.id) == []  # and not again as a due push


async def test_a_disabled_reps_deals_left_in_the_queue_are_raised_as_deals(
    harness: Harness,
) -> None:
    h = harness
    boss = await h.make_employee("supervisor", name="Boss")
    anna = await h.make_employee("rep", name="Anna")
    await _ivans_deal(h, anna)
    await disable_employee(h.running.crm, anna.employee)
    [raised] = _waiting(await h.tick(), boss.user.id)
    # Hers, so a deal: no lead that "still" waits.
    assert raised["text"].startswith("⏳ Эту сделку команды main из очереди ещё никто не взял.")


async def test_client_bot_leads_go_to_its_team(sales_bot: Harness) -> None:
    h = sales_bot
    main_rep = await h.make_employee("rep", name="Main")
    sales_rep = await h.make_employee("rep", name="Sally", team="sales")
    for name in ("Anna", "Boris"):
        deal, said = await _lead_from(h, name)
        assert (deal.team, deal.owner_id) == ("sales", sales_rep.employee.id)  # type: ignore[attr-defined]
        assert any(t.startswith("🆕 Новый лид") for t in _texts(said, sales_rep.user.id))
        assert said.to(main_rep.user.id) == []


async def test_a_lead_nobody_can_take_alerts_the_supervisor_at_once_and_after_working_time(
    sales_bot: Harness,
) -> None:
    h = sales_bot
    boss = await h.make_employee("supervisor", name="Boss", team="sales")
    admin = await h.make_employee("admin", name="Root")
    sally = await h.make_employee("rep", name="Sally", team="sales")
    await set_shift(sally.employee, False)
    # 18:50 on a Wednesday in Moscow: 10 working minutes are left today, 5 more tomorrow.
    h.clock.set(datetime(2026, 11, 25, 18, 50, tzinfo=MOSCOW))

    arrived = await h.say(h.user("Anna"), "Hello, I need a quote", via=h.client_api)
    deal = await Deal.all().order_by("-id").first()
    assert deal is not None and deal.owner_id is None  # type: ignore[attr-defined]
    [alert] = _waiting(arrived, boss.user.id)
    assert alert["text"].startswith("⏳ Новый лид команды sales ждёт")
    rows = alert["reply_markup"]["inline_keyboard"]
    assert "Передать" in [b["text"] for row in rows for b in row]
    assert arrived.to(admin.user.id) == []  # the team has a supervisor

    h.clock.set(datetime(2026, 11, 26, 9, 4, tzinfo=MOSCOW))  # 14 working minutes
    assert _waiting(await h.tick(), boss.user.id) == []
    h.clock.set(datetime(2026, 11, 26, 9, 6, tzinfo=MOSCOW))
    [again] = _waiting(await h.tick(), boss.user.id)
    assert again["text"].startswith("⏳ Этот лид команды sales всё ещё никто не взял.")
    h.clock.advance(timedelta(hours=1))
    assert _waiting(await h.tick(), boss.user.id) == []  # once

    # The supervisor hands it out with the button.
    picker = await h.press_text(boss.user, again, "Передать")
    await h.press_text(boss.user, picker.last, "Sally")
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    assert task.assignee_id == sally.employee.id  # type: ignore[attr-defined]


async def test_a_team_without_supervisor_alerts_the_admins(sales_bot: Harness) -> None:
    h = sales_bot
    admin = await h.make_employee("admin", name="Root")
    other_boss = await h.make_employee("supervisor", name="Main boss")
    arrived = await h.say(h.user("Anna"), "hi", via=h.client_api)
    assert len(_waiting(arrived, admin.user.id)) == 1
    assert _waiting(arrived, other_boss.user.id) == []


async def test_leads_arriving_at_once_split_evenly(harness: Harness) -> None:
    h = harness
    reps = [await h.make_employee("rep", name=f"Rep {n}") for n in range(2)]
    for n in range(5):
        h.push(h.api.message(h.user(f"Client {n}"), "hi"))
    await h.say(h.user("Client 5"), "hi")  # returns when all six are handled
    owners = Counter(await Deal.all().values_list("owner_id", flat=True))
    assert owners == Counter({r.employee.id: 3 for r in reps})
