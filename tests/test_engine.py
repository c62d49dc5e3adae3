"""The next-step engine on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tortoise.exceptions import IntegrityError

from config.playbook import Playbook
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Press, Status, apply_outcome, place_for_task
from storage.models import (
    Contact,
    Deal,
    DealStatus,
    Employee,
    Role,
    Task,
    TaskStatus,
    TimelineEvent,
)
from tests.conftest import T0

MOSCOW_LANDLINE = "+74951234567"


async def _rep(name: str = "rep", role: Role = Role.REP, team: str = "main") -> Employee:
    return await Employee.create(name=name, role=role, team=team)


async def _deal(crm: Crm, owner: Employee, phone: str = MOSCOW_LANDLINE) -> Deal:
    added = await quick_add(
        crm, ContactDraft(name="Anna", phones=(phone,)), owner_id=owner.id, team=owner.team
    )
    assert added.deal is not None
    return added.deal


async def _open_task(deal: Deal) -> Task:
    return await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)


async def _press(crm: Crm, deal: Deal, button: str, actor: Employee, **kw: object) -> object:
    task = await _open_task(deal)
    return await apply_outcome(crm, Press(task.id, button, actor, **kw))  # type: ignore[arg-type]


async def test_quick_add_opens_a_deal_with_a_task_due_now(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    task = await _open_task(deal)
    assert deal.stage == "new" and deal.status == DealStatus.OPEN
    assert task.due_at == T0 and task.assignee_id == rep.id  # type: ignore[attr-defined]
    contact = await Contact.get(id=deal.contact_id)  # type: ignore[attr-defined]
    assert contact.tz == "Europe/Moscow"


async def test_same_phone_finds_the_existing_contact(crm: Crm) -> None:
    rep = await _rep()
    first = await _deal(crm, rep)
    again = await quick_add(
        crm, ContactDraft(name="Anna P", phones=(MOSCOW_LANDLINE,)), owner_id=rep.id, team="main"
    )
    assert not again.created
    assert again.deal is not None and again.deal.id == first.id
    assert await Contact.all().count() == 1


async def test_no_answer_ladder_runs_to_archive(crm: Crm, clock: FakeClock) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    expected = [timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=3), timedelta(days=1)]
    for attempt, step in enumerate(expected, start=1):
        out = await _press(crm, deal, "busy", rep)
        assert out.status == Status.DONE and out.attempt == attempt  # type: ignore[attr-defined]
        assert out.next_due == clock.now() + step  # type: ignore[attr-defined]
        clock.set(out.next_due)  # type: ignore[attr-defined]
    out = await _press(crm, deal, "no_pickup", rep)
    assert out.status == Status.DONE and out.deal_status == DealStatus.ARCHIVED  # type: ignore[attr-defined]
    await deal.refresh_from_db()
    assert deal.stage == "archive" and deal.closed_at is not None
    assert await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).count() == 0


async def test_reaching_the_client_resets_the_ladder(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    await _press(crm, deal, "busy", rep)
    await _press(crm, deal, "unavailable", rep)
    out = await _press(crm, deal, "call_back", rep, when=T0 + timedelta(hours=2))
    assert out.status == Status.DONE  # type: ignore[attr-defined]
    await deal.refresh_from_db()
    assert deal.no_answer_count == 0 and deal.stage == "in_progress"
    out = await _press(crm, deal, "busy", rep)
    assert out.attempt == 1  # type: ignore[attr-defined]


async def test_the_press_places_the_time_as_the_rep_was_told(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    task = await _open_task(deal)
    saturday_3pm = T0 + timedelta(days=3, hours=5)  # T0 is Wednesday 10:00 Moscow
    placed = await place_for_task(crm, task.id, saturday_3pm)
    assert placed.reason == "off_hours" and placed.at == saturday_3pm + timedelta(days=2)
    out = await _press(crm, deal, "call_back", rep, when=saturday_3pm)
    assert out.next_due == placed.at  # type: ignore[attr-defined]


async def test_invoice_sent_asks_for_the_time_then_moves_the_stage(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    assert (await _press(crm, deal, "invoice_sent", rep)).status == Status.NEEDS_TIME  # type: ignore[attr-defined]
    when = T0 + timedelta(days=1, hours=5)
    out = await _press(crm, deal, "invoice_sent", rep, when=when)
    assert out.stage == "invoice_sent" and out.next_due == when  # type: ignore[attr-defined]
    task = await _open_task(deal)
    assert task.kind == "payment_check" and task.planned_by == "invoice_sent"


async def test_paid_closes_the_deal_and_plans_the_repeat_sale(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    out = await _press(crm, deal, "paid", rep)
    assert out.deal_status == DealStatus.WON and out.next_task_id is None  # type: ignore[attr-defined]
    contact = await Contact.get(id=deal.contact_id)  # type: ignore[attr-defined]
    assert contact.last_purchase_at == T0
    repeat = await Deal.get(id=out.repeat_deal_id)  # type: ignore[attr-defined]
    repeat_task = await _open_task(repeat)
    assert repeat.source == "repeat" and repeat_task.kind == "repeat_sale"
    assert repeat_task.due_at >= T0 + timedelta(days=90)


async def test_refused_needs_a_reason(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    assert (await _press(crm, deal, "refused", rep)).status == Status.NEEDS_REASON  # type: ignore[attr-defined]
    out = await _press(crm, deal, "refused", rep, reason="price", note="too expensive")
    assert out.deal_status == DealStatus.LOST  # type: ignore[attr-defined]
    await deal.refresh_from_db()
    assert deal.lost_reason == "price" and deal.lost_note == "too expensive"


async def test_note_keeps_the_task_open(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    task = await _open_task(deal)
    out = await apply_outcome(crm, Press(task.id, "note", rep, note="asked for a discount"))
    assert out.status == Status.NOTE_ADDED
    assert (await _open_task(deal)).id == task.id
    assert await TimelineEvent.filter(deal_id=deal.id, kind="note").count() == 1


async def test_a_repeated_press_is_already_handled(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    task = await _open_task(deal)
    first = await apply_outcome(crm, Press(task.id, "busy", rep))
    second = await apply_outcome(crm, Press(task.id, "busy", rep))
    assert (first.status, second.status) == (Status.DONE, Status.ALREADY_HANDLED)
    await deal.refresh_from_db()
    assert deal.no_answer_count == 1


async def test_concurrent_presses_apply_once(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    task = await _open_task(deal)
    results = await asyncio.gather(
        *(apply_outcome(crm, Press(task.id, b, rep)) for b in ["busy", "no_pickup", "paid"] * 3)
    )
    assert [r.status for r in results].count(Status.DONE) == 1
    assert await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).count() <= 1


async def test_a_rep_cannot_press_on_a_colleagues_deal(crm: Crm) -> None:
    owner, other = await _rep("owner"), await _rep("other")
    supervisor = await _rep("boss", Role.SUPERVISOR)
    foreign_supervisor = await _rep("far boss", Role.SUPERVISOR, team="north")
    deal = await _deal(crm, owner)
    assert (await _press(crm, deal, "busy", other)).status == Status.FORBIDDEN  # type: ignore[attr-defined]
    assert (await _press(crm, deal, "busy", foreign_supervisor)).status == Status.FORBIDDEN  # type: ignore[attr-defined]
    assert (await _press(crm, deal, "busy", supervisor)).status == Status.DONE  # type: ignore[attr-defined]


async def test_the_database_refuses_a_second_open_task(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    with pytest.raises(IntegrityError):
        await Task.create(deal_id=deal.id, kind="call", due_at=T0, created_at=T0)
    # A closed task beside the open one is fine: the index covers open rows only.
    await Task.create(deal_id=deal.id, kind="call", due_at=T0, created_at=T0, status="done")


async def test_a_button_not_offered_at_the_stage_is_refused(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    assert (await _press(crm, deal, "no_answer", rep)).status == Status.NOT_OFFERED  # type: ignore[attr-defined]


async def test_a_sub_outcome_can_carry_its_own_ladder(crm: Crm, clock: FakeClock) -> None:
    """Busy retries sooner than the default ladder; the attempt counter stays shared."""
    data = crm.playbook.model_dump()
    data["ladders"]["busy_fast"] = {"steps": ["10m", "1h"], "then": "archive"}
    data["buttons"]["busy"] |= {"ladder": "busy_fast"}
    crm.playbook = Playbook.model_validate(data)
    rep = await _rep()
    deal = await _deal(crm, rep)
    busy = await _press(crm, deal, "busy", rep)
    assert busy.next_due == clock.now() + timedelta(minutes=10)  # type: ignore[attr-defined]
    clock.set(busy.next_due)  # type: ignore[attr-defined]
    pickup = await _press(crm, deal, "no_pickup", rep)
    # The second attempt on the default ladder is +30 min.
    assert pickup.attempt == 2 and pickup.next_due == clock.now() + timedelta(minutes=30)  # type: ignore[attr-defined]
    clock.set(pickup.next_due)  # type: ignore[attr-defined]
    # Busy's ladder has two steps: its third attempt archives the deal.
    final = await _press(crm, deal, "busy", rep)
    assert final.deal_status == DealStatus.ARCHIVED  # type: ignore[attr-defined]
