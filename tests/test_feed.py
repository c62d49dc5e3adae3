"""The feed and its claims, plus the core invariant under random presses."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import connections

from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, open_deal, quick_add
from crm.engine import Press, Status, apply_outcome
from crm.feed import assign_deal, load_by_hour, next_task, reassign, slots
from crm.notices import NoticeKind
from storage import claims
from storage.models import Contact, Deal, Employee, Role, Task, TaskStatus, TimelineEvent
from tests.conftest import T0
from tests.recording import RecordingNotifier

MSK = ZoneInfo("Europe/Moscow")


async def _rep(name: str = "rep") -> Employee:
    return await Employee.create(name=name, role=Role.REP)


async def _queued_leads(crm: Crm, n: int) -> None:
    for i in range(n):
        contact = await Contact.create(name=f"lead {i}", created_at=crm.now())
        await open_deal(crm, contact, owner_id=None, team="main", task_kind="lead")


async def test_next_task_prefers_the_most_overdue(crm: Crm, clock: FakeClock) -> None:
    rep = await _rep()
    first = await quick_add(crm, ContactDraft("A", ("+74951111111",)), owner_id=rep.id, team="main")
    clock.advance(timedelta(minutes=10))
    await quick_add(crm, ContactDraft("B", ("+74952222222",)), owner_id=rep.id, team="main")
    task = await next_task(crm, rep)
    assert task is not None and task.deal_id == first.deal.id  # type: ignore[union-attr, attr-defined]


async def test_next_task_hands_out_the_oldest_lead_once(crm: Crm) -> None:
    await _queued_leads(crm, 1)
    a, b = await _rep("a"), await _rep("b")
    got_a, got_b = await next_task(crm, a), await next_task(crm, b)
    assert got_a is not None and got_b is None
    assert got_a.claimed and got_a.assignee_id == a.id
    deal = await Deal.get(id=got_a.deal_id)
    assert deal.owner_id == a.id and deal.version == 2  # type: ignore[attr-defined]
    contact = await Contact.get(id=deal.contact_id)  # type: ignore[attr-defined]
    assert contact.owner_id == a.id  # type: ignore[attr-defined]
    event = await TimelineEvent.get(deal_id=deal.id, kind="assign")
    assert event.data == {"from": None, "to": a.id} and event.actor_id == a.id  # type: ignore[attr-defined]
    # Next time he asks, the claimed lead is simply his own due task.
    again = await next_task(crm, a)
    assert again is not None and again.id == got_a.id and not again.claimed


async def test_concurrent_claimers_never_share_a_lead(crm: Crm) -> None:
    await _queued_leads(crm, 40)
    reps = [await _rep(f"r{i}") for i in range(16)]
    claimed: list[int] = []

    async def claimer(rep: Employee) -> None:
        while (task := await next_task(crm, rep)) is not None:
            claimed.append(task.id)
            # Close it so the rep's own feed is empty and he claims again from the queue.
            await Task.filter(id=task.id).update(status=TaskStatus.DONE)

    await asyncio.gather(*(claimer(r) for r in reps))
    assert len(claimed) == 40 == len(set(claimed))


async def test_due_pushes_are_claimed_exactly_once(crm: Crm, clock: FakeClock) -> None:
    rep = await _rep()
    for i in range(30):
        await quick_add(
            crm, ContactDraft(f"c{i}", (f"+7495{i:07d}",)), owner_id=rep.id, team="main"
        )
    batches = await asyncio.gather(*(claims.claim_due_pushes(clock.now(), 7) for _ in range(8)))
    pushed = [task_id for batch in batches for task_id, _ in batch]
    assert len(pushed) == 30 == len(set(pushed))
    assert await claims.claim_due_pushes(clock.now(), 100) == []
    await claims.release_push(pushed[0])
    assert [t for t, _ in await claims.claim_due_pushes(clock.now(), 100)] == [pushed[0]]


async def test_reassigning_moves_the_deal_and_bumps_the_stored_version(
    crm: Crm,
) -> None:
    old, new = await _rep("old"), await _rep("new")
    boss = await Employee.create(name="boss", role=Role.SUPERVISOR)
    added = await quick_add(
        crm, ContactDraft(name="c", phones=("+74951110001",)), owner_id=old.id, team="main"
    )
    deal = added.deal
    assert deal is not None
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    # The old owner presses while the supervisor's screen still holds the deal as loaded.
    assert (await apply_outcome(crm, Press(task.id, "busy", old))).status == Status.DONE
    await assign_deal(crm, deal, new, actor=boss)
    stored = await Deal.get(id=deal.id)
    assert stored.owner_id == new.id  # type: ignore[attr-defined]
    assert stored.version == 3  # created 1, pressed 2, reassigned 3: each change bumps it
    next_task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    assert next_task.assignee_id == new.id  # type: ignore[attr-defined]
    event = await TimelineEvent.get(deal_id=deal.id, kind="assign")
    assert event.data == {"from": old.id, "to": new.id}


async def test_load_by_hour_and_slots_show_the_reps_load(crm: Crm) -> None:
    rep = await _rep()
    added = await quick_add(crm, ContactDraft("A", ("+74951111111",)), owner_id=rep.id, team="main")
    task = await Task.get(deal_id=added.deal.id, status=TaskStatus.OPEN)  # type: ignore[union-attr]
    # 11:xx Moscow time tomorrow... here: today 11:30 (T0 is 10:00 Moscow).
    await Task.filter(id=task.id).update(due_at=T0 + timedelta(hours=1, minutes=30))
    assert await load_by_hour(rep, date(2026, 11, 25), MSK) == {11: 1}
    offered = await slots(crm, rep, count=10)
    assert [s.start.astimezone(MSK).hour for s in offered[:3]] == [11, 12, 13]
    assert offered[0].tasks == 1 and offered[1].tasks == 0
    # Working hours end at 19:00: the slot after 18:00 is the next morning at 09:00.
    after_six = offered[
        offered.index(next(s for s in offered if s.start.astimezone(MSK).hour == 18)) + 1
    ]
    assert after_six.start.astimezone(MSK).hour == 9


async def test_slots_of_a_task_keep_to_its_clients_call_window(crm: Crm) -> None:
    rep = await _rep()
    added = await quick_add(
        crm, ContactDraft("B", ("+74232123456",)), owner_id=rep.id, team="main"
    )  # Vladivostok, 7 hours ahead of Moscow: his 21:00 is 14:00 Moscow
    task = await Task.get(deal_id=added.deal.id, status=TaskStatus.OPEN)  # type: ignore[union-attr]
    offered = await slots(crm, rep, count=5, task_id=task.id)
    starts = [s.start.astimezone(MSK) for s in offered]
    assert [(t.day, t.hour) for t in starts] == [(25, 11), (25, 12), (25, 13), (26, 9), (26, 10)]
    # Without the task (no client) the department's hours alone.
    assert (await slots(crm, rep, count=4))[3].start.astimezone(MSK).hour == 14


BUTTONS = [
    "busy",
    "unavailable",
    "no_pickup",
    "call_back",
    "invoice_sent",
    "paid",
    "refused",
    "note",
]


async def _assert_one_next_step() -> None:
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        """SELECT d.id, d.status, COUNT(t.id) AS open_tasks FROM deal d
           LEFT JOIN task t ON t.deal_id = d.id AND t.status = 'open'
           GROUP BY d.id, d.status"""
    )
    for row in rows:
        expected = 1 if row["status"] == "open" else 0
        assert row["open_tasks"] == expected, row


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(BUTTONS), st.booleans(), st.integers(1, 600)),
        min_size=1,
        max_size=25,
    )
)
async def test_every_open_deal_always_has_exactly_one_next_step(
    crm: Crm, clock: FakeClock, steps: list[tuple[int, str, bool, int]]
) -> None:
    rep = await Employee.create(name="p", role=Role.REP)
    deals = []
    for _ in range(3):
        contact = await Contact.create(name="x", created_at=crm.now())
        deals.append(await open_deal(crm, contact, owner_id=rep.id, team="main"))
    for index, button, concurrent, minutes in steps:
        clock.advance(timedelta(minutes=minutes))
        task = await Task.get_or_none(deal_id=deals[index].id, status=TaskStatus.OPEN)
        if task is None:
            continue
        press = Press(
            task.id, button, rep, when=clock.now() + timedelta(hours=2), reason="price", note="n"
        )
        presses = [press, press] if concurrent else [press]
        results = await asyncio.gather(*(apply_outcome(crm, p) for p in presses))
        done = [r for r in results if r.status == Status.DONE]
        assert len(done) <= 1
        await _assert_one_next_step()


async def test_reassign_only_by_whom_and_to_whom_it_may(crm: Crm) -> None:
    owner, other = await _rep("owner"), await _rep("other")
    boss = await Employee.create(name="boss", role=Role.SUPERVISOR, team="main")
    far_boss = await Employee.create(name="far", role=Role.SUPERVISOR, team="north")
    far_rep = await Employee.create(name="far rep", role=Role.REP, team="north")
    added = await quick_add(
        crm, ContactDraft("A", ("+74951111111",)), owner_id=owner.id, team="main"
    )
    deal_id = added.deal.id  # type: ignore[union-attr]
    told = RecordingNotifier()
    assert await reassign(crm, other, deal_id, other.id, told) is None  # a rep cannot
    assert await reassign(crm, far_boss, deal_id, other.id, told) is None  # another team's boss
    assert await reassign(crm, boss, deal_id, far_rep.id, told) is None  # a rep of another team
    await Employee.filter(id=other.id).update(reachable=False)
    assert await reassign(crm, boss, deal_id, other.id, told) is None  # he blocked the bot
    await Employee.filter(id=other.id).update(reachable=True)
    assert told.notices == []
    done = await reassign(crm, boss, deal_id, other.id, told)
    assert done is not None and done[1].id == other.id
    task = await Task.get(deal_id=deal_id, status=TaskStatus.OPEN)
    assert task.assignee_id == other.id  # type: ignore[attr-defined]
    # The new owner gets the card, the old one hears who moved it to whom.
    assert [(n.employee_id, n.kind, n.task_id) for n in told.notices] == [
        (other.id, NoticeKind.DEAL_GIVEN, task.id), (owner.id, NoticeKind.DEAL_TAKEN, None)
    ]
    assert told.notices[1].params == {"by": "boss", "to": "other", "title": added.deal.title}  # type: ignore[union-attr]
    await Deal.filter(id=deal_id).update(status="won")
    assert await reassign(crm, boss, deal_id, owner.id, told) is None  # a closed deal stays put
