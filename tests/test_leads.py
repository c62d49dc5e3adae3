"""Clients who write in: intake, assignment, alerts and the chat record (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from config.playbook import Assignment, Leads
from crm.chat import (
    ChatContent,
    ClientBots,
    ReplyRefusal,
    ReplyTarget,
    record_outgoing,
    reply_target,
    stop,
)
from crm.clock import FakeClock
from crm.context import Crm
from crm.engine import Press, Status, apply_outcome
from crm.feed import assign_deal, next_task
from crm.leads import AlertKind, alert_notices, escalations, intake, set_shift
from crm.notices import NoticeKind
from crm.staff import TelegramUser
from storage.models import (
    ChatMessage,
    Contact,
    ContactPhone,
    Deal,
    DealStatus,
    Employee,
    EventKind,
    Role,
    Task,
    TaskStatus,
    TimelineEvent,
)
from tests.conftest import T0

ANNA = TelegramUser(id=5001, name="Anna", username="anna", lang="ru")
SHARED = ChatContent(media_kind="contact")


def _text(text: str) -> ChatContent:
    return ChatContent(text=text)


async def _reps(*names: str, team: str = "main", on_shift: bool = True) -> list[Employee]:
    return [
        await Employee.create(name=n, role=Role.REP, team=team, tg_id=900 + i, on_shift=on_shift)
        for i, n in enumerate(names)
    ]


async def test_new_client_gets_a_contact_a_lead_and_a_task_due_now(crm: Crm) -> None:
    [rep] = await _reps("Ivan")
    found = await intake(crm, ANNA, _text("Hello, how much?"), client_message_id=11)
    assert found.new_contact and found.new_deal and found.repeat_of is None
    contact = await Contact.get(tg_user_id=ANNA.id)
    assert (contact.name, contact.source, contact.tg_username) == ("Anna", "telegram", "anna")
    assert contact.owner_id == rep.id  # type: ignore[attr-defined]
    deal = await Deal.get(id=found.deal.id)
    assert (deal.stage, deal.source, deal.owner_id) == ("new", "telegram", rep.id)  # type: ignore[attr-defined]
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    assert (task.kind, task.due_at, task.assignee_id) == ("lead", T0, rep.id)  # type: ignore[attr-defined]
    message = await ChatMessage.get(id=found.message.id)
    assert message.incoming and message.client_message_id == 11 and message.deal_id == deal.id  # type: ignore[attr-defined]
    kinds = await TimelineEvent.filter(deal_id=deal.id).order_by("id").values_list(
        "kind", flat=True
    )
    assert kinds == [EventKind.CREATED, EventKind.MSG_IN]
    assert found.alerts == ()


async def test_round_robin_across_three_reps_survives_a_restart(crm: Crm, clock: FakeClock) -> None:
    reps = await _reps("A", "B", "C")
    owners = []
    for n in range(4):
        found = await intake(crm, TelegramUser(6000 + n, f"c{n}"), _text("hi"))
        owners.append(found.deal.owner_id)  # type: ignore[attr-defined]
    # "Restart": a new Crm object; the rotation lives in the store.
    again = Crm(crm.playbook, clock)
    for n in range(4, 6):
        found = await intake(again, TelegramUser(6000 + n, f"c{n}"), _text("hi"))
        owners.append(found.deal.owner_id)  # type: ignore[attr-defined]
    a, b, c = (r.id for r in reps)
    assert owners == [a, b, c, a, b, c]


async def test_a_rep_who_joins_gets_the_next_lead_then_takes_his_place(crm: Crm) -> None:
    a, b = await _reps("A", "B")
    await intake(crm, TelegramUser(6100, "x"), _text("hi"))
    [late] = [await Employee.create(name="Late", role=Role.REP, team="main")]
    owners = []
    for n in range(1, 4):
        found = await intake(crm, TelegramUser(6100 + n, "x"), _text("hi"))
        owners.append(found.deal.owner_id)  # type: ignore[attr-defined]
    assert owners == [b.id, late.id, a.id]


async def test_least_loaded_picks_the_rep_with_fewest_open_tasks(crm: Crm) -> None:
    crm.playbook = crm.playbook.model_copy(update={"assignment": Assignment(mode="least_loaded")})
    a, b, c = await _reps("A", "B", "C")
    # Give A two leads and B one by hand: C is the least loaded.
    for n, owner in enumerate((a, a, b)):
        found = await intake(crm, TelegramUser(6200 + n, "x"), _text("hi"))
        await Deal.filter(id=found.deal.id).update(owner_id=owner.id)
        await Task.filter(deal_id=found.deal.id).update(assignee_id=owner.id)
    found = await intake(crm, TelegramUser(6299, "x"), _text("hi"))
    assert found.deal.owner_id == c.id  # type: ignore[attr-defined]
    found = await intake(crm, TelegramUser(6298, "x"), _text("hi"))
    # Now B and C have one each; of equals the one longest without a lead (B) wins.
    assert found.deal.owner_id == b.id  # type: ignore[attr-defined]


async def test_only_reps_on_shift_of_the_team_get_leads(crm: Crm) -> None:
    on, off = await _reps("On", "Off")
    await set_shift(off, False)
    await Employee.create(name="Other team", role=Role.REP, team="north", on_shift=True)
    await Employee.create(name="Boss", role=Role.SUPERVISOR, team="main", on_shift=True)
    owners = {
        (await intake(crm, TelegramUser(6300 + n, "x"), _text("hi"))).deal.owner_id  # type: ignore[attr-defined]
        for n in range(3)
    }
    assert owners == {on.id}
    assert not (await Employee.get(id=off.id)).on_shift


async def test_nobody_on_shift_leaves_the_lead_in_the_team_queue_for_next(crm: Crm) -> None:
    [rep] = await _reps("Ivan", on_shift=False)
    found = await intake(crm, ANNA, _text("hi"))
    deal = await Deal.get(id=found.deal.id)
    assert deal.owner_id is None  # type: ignore[attr-defined]
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    assert task.assignee_id is None and task.team == "main"  # type: ignore[attr-defined]
    claimed = await next_task(crm, rep)
    assert claimed is not None and claimed.id == task.id
    assert (await Deal.get(id=deal.id)).owner_id == rep.id  # type: ignore[attr-defined]


async def test_returning_client_with_an_open_deal_writes_into_it(
    crm: Crm, clock: FakeClock
) -> None:
    await _reps("A", "B")
    first = await intake(crm, ANNA, _text("one"))
    clock.advance(timedelta(minutes=5))
    second = await intake(crm, ANNA, _text("two"))
    assert second.deal.id == first.deal.id and not second.new_deal and not second.new_contact
    assert await Deal.all().count() == 1 and await Contact.all().count() == 1
    texts = await TimelineEvent.filter(deal_id=first.deal.id, kind=EventKind.MSG_IN).order_by(
        "at", "id"
    ).values_list("text", flat=True)
    assert texts == ["one", "two"]


async def test_client_whose_deals_are_closed_opens_a_linked_repeat_deal(crm: Crm) -> None:
    [rep] = await _reps("A")
    first = await intake(crm, ANNA, _text("buying"))
    task = await Task.get(deal_id=first.deal.id, status=TaskStatus.OPEN)
    done = await apply_outcome(crm, Press(task.id, "refused", rep, reason="price"))
    assert done.status == Status.DONE
    again = await intake(crm, ANNA, _text("changed my mind"))
    assert again.new_deal and again.deal.id != first.deal.id
    assert again.repeat_of == first.deal.id and not again.new_contact
    created = await TimelineEvent.get(deal_id=again.deal.id, kind=EventKind.CREATED)
    assert created.data["repeat_of"] == first.deal.id
    assert (await Deal.get(id=first.deal.id)).status == DealStatus.LOST


async def test_shared_phone_links_an_imported_contact_to_the_telegram_user(crm: Crm) -> None:
    await _reps("A")
    imported = await Contact.create(name="Anna P", created_at=T0, source="import")
    await ContactPhone.create(contact_id=imported.id, e164="+79991234567")
    found = await intake(crm, ANNA, SHARED, shared_phone="8 999 123-45-67")
    assert found.contact.id == imported.id and not found.new_contact
    assert (await Contact.get(id=imported.id)).tg_user_id == ANNA.id
    # A phone shared by a known client is added to his contact.
    again = await intake(crm, ANNA, SHARED, shared_phone="+7 999 765-43-21")
    assert again.contact.id == imported.id
    assert await ContactPhone.filter(contact_id=imported.id).count() == 2


async def test_keyword_and_vip_alerts_go_to_owner_and_team_supervisors(crm: Crm) -> None:
    [rep] = await _reps("A")
    boss = await Employee.create(name="Boss", role=Role.SUPERVISOR, team="main")
    await Employee.create(name="Other boss", role=Role.SUPERVISOR, team="north")
    quiet = await intake(crm, ANNA, _text("hello"))
    assert quiet.alerts == () and await alert_notices(quiet) == []
    urgent = await intake(crm, ANNA, _text("СРОЧНО нужен договор"))
    assert {(a.kind, a.word) for a in urgent.alerts} == {
        (AlertKind.KEYWORD, "срочно"), (AlertKind.KEYWORD, "договор")
    }
    notices = await alert_notices(urgent)
    assert [n.employee_id for n in notices] == [rep.id, boss.id]
    assert all(n.kind == NoticeKind.ALERT and n.deal_id == urgent.deal.id for n in notices)
    assert notices[0].params["text"] == "СРОЧНО нужен договор"
    await Contact.filter(id=urgent.contact.id).update(tags=["VIP"])
    vip = await intake(crm, ANNA, _text("hi again"))
    assert vip.alerts and vip.alerts[0].kind == AlertKind.VIP


async def test_replies_are_refused_to_stopped_clients_and_to_other_reps(crm: Crm) -> None:
    a, b = await _reps("A", "B")
    found = await intake(crm, ANNA, _text("hi"))
    assert found.deal.owner_id == a.id  # type: ignore[attr-defined]
    bots = ClientBots(staff=1)
    assert await reply_target(b, found.deal.id, bots) == ReplyRefusal.FORBIDDEN
    target = await reply_target(a, found.deal.id, bots)
    assert target == ReplyTarget(found.contact.id, found.deal.id, ANNA.id, bot_id=1)
    assert isinstance(target, ReplyTarget)
    out = await record_outgoing(crm, target, a, _text("Hello Anna"), client_message_id=77)
    assert not out.incoming and out.employee_id == a.id  # type: ignore[attr-defined]
    kinds = await TimelineEvent.filter(deal_id=found.deal.id).order_by("id").values_list(
        "kind", flat=True
    )
    assert kinds[-2:] == [EventKind.MSG_IN, EventKind.MSG_OUT]
    assert await stop(crm, ANNA.id) is True
    assert await stop(crm, ANNA.id) is False  # the confirmation goes out once
    assert await reply_target(a, found.deal.id, bots) == ReplyRefusal.STOPPED
    # A stopped client who writes again lands on his deal, and his /stop is lifted.
    again = await intake(crm, ANNA, _text("one more thing"))
    assert again.deal.id == found.deal.id and again.resumed


async def test_leads_arriving_at_once_split_evenly(crm: Crm) -> None:
    # Before: a 5-try compare-and-set on lead_turn, and its last loser got the last choice
    # without moving it: 6 leads at once among 2 reps went 4:2.
    a, b = await _reps("A", "B")
    found = await asyncio.gather(
        *(intake(crm, TelegramUser(6400 + n, f"c{n}"), _text("hi")) for n in range(6))
    )
    assert Counter(f.deal.owner_id for f in found) == {a.id: 3, b.id: 3}  # type: ignore[attr-defined]
    c = await Employee.create(name="C", role=Role.REP, team="main", tg_id=990)
    found = await asyncio.gather(
        *(intake(crm, TelegramUser(6500 + n, f"c{n}"), _text("hi")) for n in range(8))
    )
    counts = Counter(f.deal.owner_id for f in found)  # type: ignore[attr-defined]
    assert set(counts) == {a.id, b.id, c.id} and max(counts.values()) - min(counts.values()) <= 1


async def test_reps_who_blocked_the_bot_get_no_leads_in_either_mode(crm: Crm) -> None:
    away, here = await _reps("Away", "Here")
    await Employee.filter(id=away.id).update(reachable=False)
    owners = {
        (await intake(crm, TelegramUser(6600 + n, "x"), _text("hi"))).deal.owner_id  # type: ignore[attr-defined]
        for n in range(2)
    }
    assert owners == {here.id}
    # Least loaded would pick Away, who has no open task at all.
    crm.playbook = crm.playbook.model_copy(update={"assignment": Assignment(mode="least_loaded")})
    found = await intake(crm, TelegramUser(6610, "x"), _text("hi"))
    assert found.deal.owner_id == here.id  # type: ignore[attr-defined]
    await Employee.filter(id=here.id).update(reachable=False)
    found = await intake(crm, TelegramUser(6611, "x"), _text("hi"))
    assert found.deal.owner_id is None  # type: ignore[attr-defined]


async def test_leads_go_to_the_playbook_team_or_the_one_named(crm: Crm) -> None:
    main, sales = await _reps("Main", "Sally")
    await Employee.filter(id=sales.id).update(team="sales")
    assert (await intake(crm, TelegramUser(6700, "x"), _text("hi"))).deal.owner_id == main.id  # type: ignore[attr-defined]
    crm.playbook = crm.playbook.model_copy(update={"leads": Leads(team="sales")})
    found = await intake(crm, TelegramUser(6701, "x"), _text("hi"))
    assert (found.deal.team, found.deal.owner_id) == ("sales", sales.id)  # type: ignore[attr-defined]
    found = await intake(crm, TelegramUser(6702, "x"), _text("hi"), team="main")
    assert (found.deal.team, found.deal.owner_id) == ("main", main.id)  # type: ignore[attr-defined]


async def test_a_lead_nobody_can_take_alerts_overseers_and_escalates_once(
    crm: Crm, clock: FakeClock
) -> None:
    admin = await Employee.create(name="Root", role=Role.ADMIN, team="main", tg_id=980)
    [off] = await _reps("Off", team="sales", on_shift=False)
    clock.set(T0.replace(hour=15, minute=50))  # 18:50 in Moscow: 10 working minutes left today
    found = await intake(crm, ANNA, _text("hi"), team="sales")
    task = await Task.get(id=found.task.id)  # type: ignore[union-attr]
    assert task.assignee_id is None and task.team == "sales"  # type: ignore[attr-defined]
    assert task.escalate_at == T0.replace(day=26, hour=6, minute=5)  # 09:05 tomorrow in Moscow
    # No supervisor in sales: the admins hear of it.
    [notice] = await alert_notices(found)
    assert (notice.employee_id, notice.kind, notice.task_id) == (
        admin.id, NoticeKind.LEAD_WAITING, task.id
    )
    assert notice.params == {"team": "sales", "escalated": 0, "owned": 0}
    boss = await Employee.create(name="Boss", role=Role.SUPERVISOR, team="sales", tg_id=981)
    assert [n.employee_id for n in await alert_notices(found)] == [boss.id]

    clock.set(T0.replace(day=26, hour=6, minute=4))
    assert await escalations(crm) == []
    clock.set(T0.replace(day=26, hour=6, minute=5))
    [again] = await escalations(crm)
    assert (again.employee_id, again.task_id, again.params["escalated"]) == (boss.id, task.id, 1)
    assert again.params["owned"] == 0  # nobody ever had it: a lead
    assert await escalations(crm) == []  # once
    assert (await Task.get(id=task.id)).escalate_at is None
    # A lead handed out before its time is not raised.
    other = await intake(crm, TelegramUser(6800, "x"), _text("hi"), team="sales")
    await assign_deal(crm, other.deal, off, actor=boss)
    clock.advance(timedelta(hours=1))
    assert await escalations(crm) == []
    assert (await Task.get(id=other.task.id)).assignee_id == off.id  # type: ignore[union-attr, attr-defined]
