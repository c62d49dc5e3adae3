"""The card's one-statement read (storage.card_reads.card_of_task / card_of_deal) on both stores."""

from __future__ import annotations

from datetime import timedelta

from crm.context import Crm
from storage.card_reads import card_of_deal, card_of_task
from storage.models import (
    Contact,
    ContactPhone,
    Deal,
    DealStatus,
    EventKind,
    Task,
    TaskStatus,
    TimelineEvent,
)
from tests.conftest import T0


async def _deal(crm: Crm) -> tuple[Deal, Task]:
    contact = await Contact.create(
        name="Anna <b>", company="Acme", tz="Asia/Omsk", tags=["vip", "b2b"], created_at=T0
    )
    for e164 in ("+79131234567", "+74951234567", "+73832123456"):
        await ContactPhone.create(contact=contact, e164=e164)
    deal = await Deal.create(
        contact=contact, stage="new", team="main", amount=1_500_050, tags=["b2b", "hot"],
        created_at=T0, stage_changed_at=T0,
    )
    task = await Task.create(
        deal=deal, kind="call", due_at=T0 + timedelta(minutes=5), team="main", attempt=2,
        planned_by="no_pickup", created_at=T0,
    )
    # Two events at the same moment: the later id is the newer one.
    await TimelineEvent.create(deal=deal, kind=EventKind.CREATED, at=T0 - timedelta(days=1))
    await TimelineEvent.create(deal=deal, kind=EventKind.NOTE, text="first", at=T0)
    await TimelineEvent.create(deal=deal, kind=EventKind.NOTE, text="second", at=T0)
    await TimelineEvent.create(
        deal=deal, kind=EventKind.OUTCOME, at=T0 - timedelta(hours=1),
        data={"button": "busy", "due": (T0 + timedelta(hours=2)).isoformat()},
    )
    return deal, task


async def test_card_of_a_task_reads_everything_in_order(crm: Crm) -> None:
    deal, task = await _deal(crm)
    row = await card_of_task(task.id, 3)
    assert row is not None
    assert (row.deal_id, row.stage, row.deal_status, row.amount) == (
        deal.id, "new", DealStatus.OPEN, 1_500_050)
    assert (row.contact_name, row.company, row.contact_tz) == ("Anna <b>", "Acme", "Asia/Omsk")
    assert row.tags == ("vip", "b2b", "hot")
    assert row.phones == ("+79131234567", "+74951234567", "+73832123456")
    assert (row.task_id, row.task_kind, row.task_status, row.attempt, row.planned_by) == (
        task.id, "call", TaskStatus.OPEN, 2, "no_pickup")
    assert row.due_at == T0 + timedelta(minutes=5) and row.due_at.utcoffset() == timedelta(0)
    assert [(e.text, e.at) for e in row.events] == [
        ("second", T0), ("first", T0), ("", T0 - timedelta(hours=1))]
    assert row.events[2].kind == EventKind.OUTCOME and row.events[2].data["button"] == "busy"
    assert await card_of_task(task.id + 1000, 3) is None


async def test_card_of_a_deal_with_and_without_its_open_task(crm: Crm) -> None:
    deal, task = await _deal(crm)
    row = await card_of_deal(deal.id, 3)
    assert row is not None and row.task_id == task.id and len(row.phones) == 3
    await Task.filter(id=task.id).update(status=TaskStatus.DONE)
    alone = await card_of_deal(deal.id, 3)
    assert alone is not None and alone.task_id is None and alone.due_at is None
    assert alone.contact_name == "Anna <b>" and len(alone.events) == 3
    bare = await Deal.create(
        contact_id=deal.contact_id, stage="new", team="main", created_at=T0,  # type: ignore[attr-defined]
        stage_changed_at=T0,
    )
    empty = await card_of_deal(bare.id, 3)
    assert empty is not None and empty.events == () and empty.tags == ("vip", "b2b")
    assert await card_of_deal(bare.id + 1000, 3) is None
