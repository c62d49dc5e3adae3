"""Staff an admin manages from the shell: employees made without Telegram (a SIP-only agent),
linked later by their invite, and employees disabled with their deals kept (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.calls import record_call
from crm.callsides import Direction
from crm.calltypes import CallRecord, Disposition
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.feed import next_task
from crm.leads import escalations
from crm.notices import NoticeKind
from crm.staff import (
    INVITE_TTL,
    JoinStatus,
    StaffError,
    TelegramUser,
    add_employee,
    create_invite,
    disable_employee,
    find_employee,
    pending_invites,
    redeem_invite,
)
from storage.models import Call, Deal, DealStatus, Employee, Role, Task, TaskStatus
from tests.conftest import T0
from tests.recording import RecordingNotifier


async def test_a_sip_only_agent_works_at_once_and_links_telegram_later(crm: Crm) -> None:
    agent, invite = await add_employee(crm, " Olga ", Role.REP, "north", "101")
    assert (agent.name, agent.team, agent.sip_ext, agent.tg_id) == ("Olga", "north", "101", None)
    assert agent.active and not agent.reachable  # no chat leads or pushes without Telegram
    # His extension's calls are his from the first call.
    record = CallRecord("c-1", "101", "84951234567", Disposition.ANSWERED, 200, T0, True,
                        T0 + timedelta(seconds=3), T0 + timedelta(seconds=40))
    effect = await record_call(crm, record, RecordingNotifier())
    assert effect.direction == Direction.OUTBOUND
    call = await Call.get(call_id="c-1")
    assert call.agent_id == agent.id  # type: ignore[attr-defined]
    assert (call.caller, call.callee, call.remote_e164) == ("101", "84951234567", "+74951234567")

    assert [i.code for i in await pending_invites(crm)] == [invite.code]
    joined = await redeem_invite(crm, invite.code, TelegramUser(555, "olga_tg", "olga", "en"))
    assert joined.status == JoinStatus.JOINED and joined.employee is not None
    assert joined.employee.id == agent.id
    linked = await Employee.get(id=agent.id)
    assert (linked.tg_id, linked.username, linked.lang, linked.name) == (555, "olga", "en", "Olga")
    assert linked.reachable and linked.sip_ext == "101"
    assert await Employee.all().count() == 1
    assert await pending_invites(crm) == []


async def test_add_employee_refuses_a_taken_extension_or_an_empty_name(crm: Crm) -> None:
    await add_employee(crm, "Olga", Role.REP, "main", "101")
    with pytest.raises(StaffError, match=r"101.*Olga"):
        await add_employee(crm, "Boris", Role.REP, "main", "101")
    with pytest.raises(StaffError, match="--name"):
        await add_employee(crm, "  ", Role.REP)
    assert await Employee.all().count() == 1


async def test_pending_invites_leave_out_used_and_expired_ones(crm: Crm, clock: FakeClock) -> None:
    old = await create_invite(crm, Role.REP)
    clock.advance(INVITE_TTL / 2)
    used = await create_invite(crm, Role.REP)
    fresh = await create_invite(crm, Role.ADMIN)
    await redeem_invite(crm, used.code, TelegramUser(1, "x"))
    assert [i.code for i in await pending_invites(crm)] == [old.code, fresh.code]
    clock.advance(INVITE_TTL / 2 + timedelta(seconds=1))
    assert [i.code for i in await pending_invites(crm)] == [fresh.code]


async def _rep_with_deals(crm: Crm, name: str = "Ivan") -> tuple[Employee, list[int]]:
    rep = await Employee.create(name=name, role=Role.REP, team="main", tg_id=900)
    deals = []
    for i, phone in enumerate(("+74951111111", "+74952222222")):
        added = await quick_add(crm, ContactDraft(f"client {i}", (phone,)), owner_id=rep.id,
                                team="main")
        assert added.deal is not None
        deals.append(added.deal.id)
    won = await quick_add(crm, ContactDraft("won", ("+74953333333",)), owner_id=rep.id,
                          team="main")
    assert won.deal is not None
    await Deal.filter(id=won.deal.id).update(status=DealStatus.WON)
    return rep, deals


async def test_disable_puts_his_open_deals_in_the_team_queue(crm: Crm) -> None:
    rep, deals = await _rep_with_deals(crm)
    done = await disable_employee(crm, rep)
    assert done.deals == deals and done.to is None
    assert not (await Employee.get(id=rep.id)).active
    for deal in await Deal.filter(id__in=deals):
        assert deal.owner_id is None and deal.team == "main"  # type: ignore[attr-defined]
    tasks = await Task.filter(deal_id__in=deals, status=TaskStatus.OPEN)
    assert len(tasks) == 2 and all(t.assignee_id is None for t in tasks)  # type: ignore[attr-defined]
    assert await Deal.filter(owner_id=rep.id, status=DealStatus.WON).count() == 1  # history kept
    # The queue is claimable: a colleague's /next takes one.
    colleague = await Employee.create(name="Boris", role=Role.REP, team="main", tg_id=901)
    got = await next_task(crm, colleague)
    assert got is not None and got.deal_id in deals  # type: ignore[attr-defined]


async def test_disable_can_give_his_deals_to_a_colleague_of_his_team(crm: Crm) -> None:
    rep, deals = await _rep_with_deals(crm)
    north = await Employee.create(name="Nora", role=Role.REP, team="north", tg_id=902)
    with pytest.raises(StaffError, match="Nora"):
        await disable_employee(crm, rep, north)
    assert (await Employee.get(id=rep.id)).active  # refused: nothing changed
    boris = await Employee.create(name="Boris", role=Role.REP, team="main", tg_id=901)
    done = await disable_employee(crm, rep, await find_employee("boris"))
    assert done.deals == deals and done.to is not None and done.to.id == boris.id
    assert await Deal.filter(id__in=deals, owner_id=boris.id).count() == 2
    assert await Task.filter(deal_id__in=deals, status=TaskStatus.OPEN,
                             assignee_id=boris.id).count() == 2


async def test_find_employee_by_id_username_or_name(crm: Crm) -> None:
    one = await Employee.create(name="Ivan Petrov", username="ivan", role=Role.REP)
    await Employee.create(name="Twin", role=Role.REP)
    await Employee.create(name="twin", role=Role.REP)
    assert (await find_employee(str(one.id))).id == one.id
    assert (await find_employee("@IVAN")).id == one.id
    assert (await find_employee("ivan petrov")).id == one.id
    with pytest.raises(StaffError, match="several"):
        await find_employee("Twin")
    with pytest.raises(StaffError, match="no such"):
        await find_employee("Nobody")


async def test_disable_cancels_his_pending_invite_and_frees_his_extension(crm: Crm) -> None:
    agent, invite = await add_employee(crm, "Olga", Role.REP, "main", "101")
    done = await disable_employee(crm, agent)
    assert (done.sip_ext, done.invites) == ("101", 1)
    # His invite no longer links a Telegram account to the disabled employee.
    assert await pending_invites(crm) == []
    joined = await redeem_invite(crm, invite.code, TelegramUser(555, "olga_tg"))
    assert joined.status == JoinStatus.INVALID
    assert (await Employee.get(id=agent.id)).tg_id is None
    # The extension is free for someone else, and its calls are the newcomer's.
    gone = await Employee.get(id=agent.id)
    assert gone.sip_ext is None and not gone.active
    newcomer, _ = await add_employee(crm, "Boris", Role.REP, "main", "101")
    record = CallRecord("c-2", "101", "84951234567", Disposition.ANSWERED, 200, T0, True,
                        T0 + timedelta(seconds=3), T0 + timedelta(seconds=40))
    await record_call(crm, record, RecordingNotifier())
    assert (await Call.get(call_id="c-2")).agent_id == newcomer.id  # type: ignore[attr-defined]


async def test_his_deals_left_in_the_queue_are_raised_to_the_team_supervisor(crm: Crm) -> None:
    boss = await Employee.create(name="Sveta", role=Role.SUPERVISOR, team="main", tg_id=800)
    rep, deals = await _rep_with_deals(crm)
    await disable_employee(crm, rep)
    # The bot's escalation job tells the supervisor of each, with its card and Reassign.
    notices = await escalations(crm)
    assert sorted(n.deal_id for n in notices if n.deal_id) == deals
    assert {(n.employee_id, n.kind) for n in notices} == {(boss.id, NoticeKind.LEAD_WAITING)}
    assert all(n.params["owned"] for n in notices)  # his deals, not leads
    assert await escalations(crm) == []  # once


async def test_deals_given_to_a_colleague_are_not_raised(crm: Crm) -> None:
    await Employee.create(name="Sveta", role=Role.SUPERVISOR, team="main", tg_id=800)
    rep, _ = await _rep_with_deals(crm)
    boris = await Employee.create(name="Boris", role=Role.REP, team="main", tg_id=901)
    await disable_employee(crm, rep, boris)
    assert await escalations(crm) == []
