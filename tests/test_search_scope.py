"""/find answers within crm.permissions' scope by every way it finds (name, tag, whole number,
part of a number, custom field): a rep his own deals, a supervisor his team's, an admin all,
a disabled employee none (SQLite and PostgreSQL)."""

from __future__ import annotations

from crm import fields
from crm.context import Crm
from crm.deals import ContactDraft, find_or_create_contact, open_deal
from crm.search import find_deals
from crm.tags import set_deal_tags
from storage.models import Deal, Employee, Role

QUERIES = ("Anna", "#vip", "city:Казань", "+79990000002", "0000002", "+79990000003", "0000003")


async def _deal(crm: Crm, name: str, phone: str, owner: Employee) -> Deal:
    contact, _ = await find_or_create_contact(crm, ContactDraft(name=name, phones=(phone,)))
    deal = await open_deal(crm, contact, owner_id=owner.id, team=owner.team)
    await set_deal_tags(deal.id, ["vip"])
    await fields.set_field(crm.playbook.field("city"), deal.id, "Казань", crm.now())  # type: ignore[arg-type]
    return deal


async def _found(crm: Crm, viewer: Employee) -> set[int]:
    found: set[int] = set()
    for query in QUERIES:
        found |= {d.id for d in await find_deals(query, viewer, crm=crm)}
    return found


async def test_find_keeps_to_the_viewers_scope(crm: Crm) -> None:
    ivan = await Employee.create(name="Ivan", role=Role.REP, team="main", tg_id=901)
    petr = await Employee.create(name="Petr", role=Role.REP, team="main", tg_id=902)
    nora = await Employee.create(name="Nora", role=Role.REP, team="north", tg_id=903)
    boss = await Employee.create(name="Sveta", role=Role.SUPERVISOR, team="main", tg_id=904)
    admin = await Employee.create(name="Root", role=Role.ADMIN, team="main", tg_id=905)
    his = await _deal(crm, "Anna Ivanova", "+79990000001", ivan)
    colleagues = await _deal(crm, "Anna Petrova", "+79990000002", petr)
    other_team = await _deal(crm, "Anna Severova", "+79990000003", nora)

    assert await _found(crm, ivan) == {his.id}
    assert await _found(crm, petr) == {colleagues.id}
    assert await _found(crm, boss) == {his.id, colleagues.id}
    assert await _found(crm, nora) == {other_team.id}
    assert await _found(crm, admin) == {his.id, colleagues.id, other_team.id}
    for query in QUERIES:  # each way of finding is exercised, not only the name
        assert await find_deals(query, admin, crm=crm), query
    admin.active = False
    assert await _found(crm, admin) == set()
