"""The board's domain (crm.board, crm.board_actions) on a real store, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from crm.board import (
    GAP_SECONDS,
    MAX_GAPS,
    FilterError,
    board_filters,
    changes,
    column,
    load_board,
    teams_for,
)
from crm.board_actions import Ask, MoveStatus, board_funnel, detail, give, move, press
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.notices import Notice
from crm.permissions import Refusal
from crm.tags import set_deal_tags
from storage.models import (
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Role,
    Task,
    TaskStatus,
    TimelineEvent,
)


class Notes:
    def __init__(self) -> None:
        self.sent: list[Notice] = []

    async def notify(self, notice: Notice) -> None:
        self.sent.append(notice)


async def _staff(name: str, role: Role = Role.REP, team: str = "main") -> Employee:
    return await Employee.create(name=name, role=role, team=team)


async def _deal(crm: Crm, owner: Employee, n: int, amount: int = 0, source: str = "") -> Deal:
    added = await quick_add(
        crm, ContactDraft(name=f"Client {n}", phones=(f"+7495100{n:04d}",)),
        owner_id=owner.id, team=owner.team,
    )
    assert added.deal is not None
    await Deal.filter(id=added.deal.id).update(amount=amount, source=source)
    return await Deal.get(id=added.deal.id)


async def _ask(deal: Deal, **kw: object) -> Ask:
    fresh = await Deal.get(id=deal.id)
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    return Ask(deal.id, task.id, fresh.version, **kw)  # type: ignore[arg-type]


async def _invariant() -> None:
    """Every open deal has exactly one open task, and no closed deal has one."""
    for deal in await Deal.all():
        open_tasks = await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).count()
        assert open_tasks == (1 if deal.status == DealStatus.OPEN else 0), deal.id


async def test_columns_are_the_open_stages_with_counts_and_sums(crm: Crm) -> None:
    rep = await _staff("rep")
    for n in range(3):
        await _deal(crm, rep, n, amount=100_00)
    moved = await _deal(crm, rep, 9, amount=5_00)
    await Deal.filter(id=moved.id).update(stage="in_progress")
    board = await load_board(crm, await board_filters(crm, rep, {}))
    assert [c.stage for c in board.columns] == ["new", "in_progress", "invoice_sent"]
    new, progress, invoice = board.columns
    assert (new.count, new.amount, len(new.cards)) == (3, 300_00, 3)
    assert (progress.count, progress.amount) == (1, 5_00)
    assert (invoice.count, invoice.cards) == (0, ())
    assert [c.client for c in new.cards] == ["Client 2", "Client 1", "Client 0"]  # newest first
    assert new.cards[0].task_kind is not None and not new.cards[0].overdue
    assert (new.cards[0].attempt, new.cards[0].attempt_size) == (1, 5)  # "attempt 1/5"


async def test_a_rep_sees_his_own_a_supervisor_his_team_an_admin_all(crm: Crm) -> None:
    ann, bob = await _staff("ann"), await _staff("bob")
    other = await _staff("olga", team="south")
    boss = await _staff("boss", Role.SUPERVISOR)
    admin = await _staff("admin", Role.ADMIN)
    await _deal(crm, ann, 1)
    await _deal(crm, bob, 2)
    await _deal(crm, other, 3)

    async def clients(viewer: Employee, **params: str) -> list[str]:
        board = await load_board(crm, await board_filters(crm, viewer, params))
        return sorted(card.client for col in board.columns for card in col.cards)

    assert await clients(ann) == ["Client 1"]
    assert await clients(ann, rep=str(bob.id)) == []  # another rep's filter shows nothing
    assert await clients(boss) == ["Client 1", "Client 2"]
    assert await clients(admin) == ["Client 1", "Client 2", "Client 3"]
    assert await clients(admin, team="south") == ["Client 3"]
    with pytest.raises(FilterError):
        await board_filters(crm, boss, {"team": "south"})
    assert await teams_for(admin) == ["main", "south"]
    assert await teams_for(boss) == ["main"] and await teams_for(ann) == []


async def test_filters_and_search(crm: Crm, clock: FakeClock) -> None:
    rep = await _staff("rep")
    late = await _deal(crm, rep, 1, source="site")
    tagged = await _deal(crm, rep, 2, source="ads")
    await set_deal_tags(tagged.id, ["VIP"])
    await Task.filter(deal_id=tagged.id).update(due_at=clock.now() + timedelta(days=1))
    await Task.filter(deal_id=late.id).update(due_at=clock.now() - timedelta(hours=1))

    async def clients(**params: str) -> list[str]:
        board = await load_board(crm, await board_filters(crm, rep, params))
        return sorted(card.client for col in board.columns for card in col.cards)

    assert await clients(tag="#vip") == ["Client 2"]
    assert await clients(source="site") == ["Client 1"]
    assert await clients(overdue="1") == ["Client 1"]
    assert await clients(q="Client 2") == ["Client 2"]
    assert await clients(q="nobody") == []
    with pytest.raises(FilterError):
        await board_filters(crm, rep, {"rep": "x"})


async def test_a_column_pages_by_keyset(crm: Crm) -> None:
    rep = await _staff("rep")
    for n in range(7):
        await _deal(crm, rep, n)
    filters = await board_filters(crm, rep, {})
    seen: list[int] = []
    after = None
    while True:
        cards, after = await column(crm, "new", filters, after, limit=3)
        seen += [c.deal_id for c in cards]
        if after is None:
            break
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7


async def test_drag_new_to_in_progress_to_paid(crm: Crm, clock: FakeClock) -> None:
    rep = await _staff("rep")
    deal = await _deal(crm, rep, 1, amount=4_900_00)
    asked = await move(crm, rep, await _ask(deal), "in_progress")
    assert asked.status == MoveStatus.NEEDS_TIME and asked.button == "call_back"
    assert len(asked.slots) == 8
    done = await move(crm, rep, await _ask(deal, when=asked.slots[0].start), "in_progress")
    assert done.status == MoveStatus.DONE and done.card is not None
    assert done.card.stage == "in_progress" and done.card.due_at == asked.slots[0].start
    await _invariant()
    paid = await move(crm, rep, await _ask(deal), "paid")
    assert paid.status == MoveStatus.DONE
    assert (await Deal.get(id=deal.id)).status == DealStatus.WON
    await _invariant()


async def test_a_typed_time_is_parsed_and_a_moved_one_offered(crm: Crm) -> None:
    rep = await _staff("rep")
    deal = await _deal(crm, rep, 1)
    unread = await move(crm, rep, await _ask(deal, typed="someday"), "in_progress")
    assert unread.status == MoveStatus.UNREADABLE
    night = await move(crm, rep, await _ask(deal, typed="tomorrow 23:00"), "in_progress")
    assert night.status == MoveStatus.OFFERED_TIME and night.why == "off_hours"
    assert night.offered is not None
    done = await move(crm, rep, await _ask(deal, when=night.offered), "in_progress")
    assert done.status == MoveStatus.DONE and done.card and done.card.due_at == night.offered
    typed = await move(crm, rep, await _ask(deal, typed="tomorrow 15:00"), "invoice_sent")
    assert typed.status == MoveStatus.DONE and typed.card and typed.card.stage == "invoice_sent"
    await _invariant()


async def test_refused_asks_the_reason(crm: Crm) -> None:
    rep = await _staff("rep")
    deal = await _deal(crm, rep, 1)
    asked = await move(crm, rep, await _ask(deal), "refused")
    assert asked.status == MoveStatus.NEEDS_REASON and "price" in asked.reasons
    done = await move(crm, rep, await _ask(deal, reason="price"), "refused")
    assert done.status == MoveStatus.DONE
    lost = await Deal.get(id=deal.id)
    assert (lost.status, lost.lost_reason) == (DealStatus.LOST, "price")
    await _invariant()


async def test_a_card_changed_meanwhile_is_refused_with_its_fresh_state(crm: Crm) -> None:
    rep = await _staff("rep")
    deal = await _deal(crm, rep, 1)
    seen = await _ask(deal)
    # Pressed in the chat meanwhile: the deal is in progress, with a new task.
    await move(crm, rep, await _ask(deal, typed="tomorrow 12:00"), "in_progress")
    stale = await move(crm, rep, seen, "paid")
    assert stale.status == MoveStatus.STALE and stale.card is not None
    assert stale.card.stage == "in_progress"
    assert (await Deal.get(id=deal.id)).status == DealStatus.OPEN
    await _invariant()


async def test_a_move_with_no_outcome_leading_there_is_refused(crm: Crm) -> None:
    rep = await _staff("rep")
    deal = await _deal(crm, rep, 1)
    await move(crm, rep, await _ask(deal, typed="tomorrow 12:00"), "in_progress")
    back = await move(crm, rep, await _ask(deal), "new")
    assert back.status == MoveStatus.NO_WAY and back.card and back.card.stage == "in_progress"


async def test_a_rep_reaching_another_reps_deal_is_refused(crm: Crm) -> None:
    ann, bob = await _staff("ann"), await _staff("bob")
    deal = await _deal(crm, bob, 1)
    before = await Deal.get(id=deal.id)
    for result in (
        await move(crm, ann, await _ask(deal, reason="price"), "refused"),
        await press(crm, ann, await _ask(deal), "paid"),
        await give(crm, ann, deal.id, before.version, ann.id, Notes()),
    ):
        assert result.status == MoveStatus.REFUSED and result.card is None
    assert await detail(crm, ann, deal.id) == Refusal.NOT_YOURS
    after = await Deal.get(id=deal.id)
    assert (after.version, after.stage, after.owner_id) == (before.version, "new", bob.id)  # type: ignore[attr-defined]


async def test_detail_and_reassign_for_a_supervisor(crm: Crm) -> None:
    ann, bob = await _staff("ann"), await _staff("bob")
    boss = await _staff("boss", Role.SUPERVISOR)
    deal = await _deal(crm, ann, 1)
    shown = await detail(crm, boss, deal.id)
    assert not isinstance(shown, Refusal)
    assert "busy" in shown.buttons and "no_answer" not in shown.buttons  # sub-menu opened
    assert {name for _, name in shown.reps} == {"ann", "bob"}
    assert shown.row.phones == ("+74951000001",) and shown.row.events
    notes = Notes()
    given = await give(crm, boss, deal.id, shown.card.version, bob.id, notes)
    assert given.status == MoveStatus.DONE and given.card and given.card.owner_id == bob.id
    assert [n.employee_id for n in notes.sent] == [bob.id, ann.id]
    own = await detail(crm, bob, deal.id)
    assert not isinstance(own, Refusal) and own.reps == ()
    noted = await press(crm, bob, await _ask(deal, note="called #hot"), "note")
    assert noted.status == MoveStatus.NOTE_ADDED


async def test_changes_tell_a_viewer_about_his_deals_only(crm: Crm) -> None:
    ann, bob = await _staff("ann"), await _staff("bob")
    mine = await _deal(crm, ann, 1)
    board = await load_board(crm, await board_filters(crm, ann, {}))
    assert await changes(crm, ann, board.version) == (board.version, False)
    theirs = await _deal(crm, bob, 2)
    top, changed = await changes(crm, ann, board.version)
    assert top.top > board.version.top and not changed
    await move(crm, ann, await _ask(mine, typed="tomorrow 12:00"), "in_progress")
    assert (await changes(crm, ann, top))[1]
    assert theirs.id != mine.id


async def test_a_rep_is_told_when_his_deal_is_given_away(crm: Crm) -> None:
    ann, bob = await _staff("ann"), await _staff("bob")
    boss = await _staff("boss", Role.SUPERVISOR)
    mine = await _deal(crm, ann, 1)
    board = await load_board(crm, await board_filters(crm, ann, {}))
    assert any(c.deal_id == mine.id for col in board.columns for c in col.cards)
    fresh = await Deal.get(id=mine.id)
    given = await give(crm, boss, mine.id, fresh.version, bob.id, Notes())
    assert given.status == MoveStatus.DONE
    seen, changed = await changes(crm, ann, board.version)
    assert changed  # the card must leave his board
    assert await changes(crm, ann, seen) == (seen, False)
    carl = await _staff("carl")
    for_carl = await load_board(crm, await board_filters(crm, carl, {}))
    await give(crm, boss, mine.id, given.card.version, ann.id, Notes())  # type: ignore[union-attr]
    assert not (await changes(crm, carl, for_carl.version))[1]  # not his deal, never was


async def test_a_change_committed_after_a_later_one_is_not_missed(crm: Crm) -> None:
    """Event ids are handed out at INSERT: an event of Ann's deal (id n) that commits after Bob's
    (id n + 1) was read must still be reported. The late commit is played by taking Ann's event
    away and putting it back under its id."""
    ann, bob = await _staff("ann"), await _staff("bob")
    mine = await _deal(crm, ann, 1)
    board = await load_board(crm, await board_filters(crm, ann, {}))
    late = await TimelineEvent.create(deal=mine, kind=EventKind.NOTE, text="late", at=crm.now())
    await _deal(crm, bob, 2)
    await late.delete()  # still in flight when the board polls
    seen, changed = await changes(crm, ann, board.version)
    assert not changed and seen.top > late.id
    await TimelineEvent.create(id=late.id, deal=mine, kind=EventKind.NOTE, text="late",
                               at=crm.now())  # commits now
    after, changed = await changes(crm, ann, seen)
    assert changed and late.id not in [g for g, _ in after.gaps]
    assert await changes(crm, ann, after) == (after, False)  # told once


async def test_a_gap_that_never_fills_is_let_go(crm: Crm, clock: FakeClock) -> None:
    ann = await _staff("ann")
    mine = await _deal(crm, ann, 1)
    board = await load_board(crm, await board_filters(crm, ann, {}))
    lost = await TimelineEvent.create(deal=mine, kind=EventKind.NOTE, text="x", at=crm.now())
    await TimelineEvent.create(deal=mine, kind=EventKind.NOTE, text="y", at=crm.now())
    await lost.delete()  # rolled back
    seen, changed = await changes(crm, ann, board.version)
    assert changed and [g for g, _ in seen.gaps] == [lost.id]
    clock.advance(timedelta(seconds=GAP_SECONDS))
    later, changed = await changes(crm, ann, seen)
    assert (later.gaps, changed) == ((), False)


async def test_many_gaps_hold_the_watermark_back(crm: Crm) -> None:
    ann = await _staff("ann")
    mine = await _deal(crm, ann, 1)
    board = await load_board(crm, await board_filters(crm, ann, {}))
    made = [await TimelineEvent.create(deal=mine, kind=EventKind.NOTE, text=str(i), at=crm.now())
            for i in range(MAX_GAPS + 3)]
    for event in made[:-1]:
        await event.delete()
    seen, changed = await changes(crm, ann, board.version)  # the newest waits for the gaps
    assert not changed and len(seen.gaps) == MAX_GAPS and seen.top < made[-1].id
    for event in made[:-1]:
        await TimelineEvent.create(id=event.id, deal=mine, kind=EventKind.NOTE, at=crm.now())
    later, changed = await changes(crm, ann, seen)
    assert changed and later.top == made[-1].id and later.gaps == ()


async def test_the_funnel_is_for_supervisors(crm: Crm, clock: FakeClock) -> None:
    rep = await _staff("rep")
    boss = await _staff("boss", Role.SUPERVISOR)
    await _deal(crm, rep, 1)
    clock.advance(timedelta(minutes=1))
    assert await board_funnel(crm, rep, None) == ()
    steps = await board_funnel(crm, boss, "other")  # his own team whatever he asks
    assert steps[0].stage == "new" and steps[0].entered == 1


async def test_a_board_far_behind_is_read_again(
    crm: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, bob = await _staff("ann"), await _staff("bob")
    await _deal(crm, ann, 1)
    board = await load_board(crm, await board_filters(crm, ann, {}))
    monkeypatch.setattr("crm.board.SCAN", 2)
    for n in range(2, 5):
        await _deal(crm, bob, n)  # none of Ann's, but more than a poll reads
    seen, changed = await changes(crm, ann, board.version)
    assert changed and seen.top == (await TimelineEvent.all().order_by("-id").first()).id  # type: ignore[union-attr]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_transaction_committing_late_on_postgres_is_reported(
    db_url: str, crm: Crm
) -> None:
    """The real thing (SQLite has one writer, so ids commit in order there): a transaction takes
    an event id for Ann's deal, another commits a later id, the board polls, then the first
    commits."""
    ann, bob = await _staff("ann"), await _staff("bob")
    mine, theirs = await _deal(crm, ann, 1), await _deal(crm, bob, 2)
    board = await load_board(crm, await board_filters(crm, ann, {}))
    other = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    try:
        late = other.transaction()
        await late.start()
        await other.execute(
            "INSERT INTO timeline_event (deal_id, kind, text, data, at)"
            " VALUES ($1, 'note', 'late', '{}', now())", mine.id,
        )
        await TimelineEvent.create(deal=theirs, kind=EventKind.NOTE, text="b", at=crm.now())
        seen, changed = await changes(crm, ann, board.version)
        assert not changed
        await late.commit()
        assert (await changes(crm, ann, seen))[1]
    finally:
        await other.close()
