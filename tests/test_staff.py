"""An employee's own settings and reachability, written by the domain (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from crm.notices import NoticeKind
from crm.staff import mark_reachable, mark_unreachable, overseers, set_conveyor, set_language
from storage.models import Employee, Role


async def _rep(**fields: Any) -> Employee:
    return await Employee.create(name="Ivan", role=Role.REP, team="main", tg_id=900, **fields)


async def test_set_language_stores_a_supported_choice(db_url: str) -> None:
    rep = await _rep(lang="ru")
    await set_language(rep, "en")
    assert rep.lang == "en"
    assert (await Employee.get(id=rep.id)).lang == "en"


async def test_set_language_refuses_an_unsupported_one(db_url: str) -> None:
    rep = await _rep(lang="ru")
    with pytest.raises(ValueError, match="unsupported language"):
        await set_language(rep, "de")
    assert rep.lang == "ru"
    assert (await Employee.get(id=rep.id)).lang == "ru"


async def test_set_conveyor_is_the_state_wanted(db_url: str) -> None:
    rep = await _rep(conveyor=True)
    for on in (False, False, True):  # a double tap changes nothing
        await set_conveyor(rep, on)
        assert rep.conveyor is on
        assert (await Employee.get(id=rep.id)).conveyor is on


async def test_a_403_marks_unreachable_and_tells_the_overseers_once(db_url: str) -> None:
    rep = await _rep()
    admin = await Employee.create(name="Root", role=Role.ADMIN, team="main", tg_id=901)
    boss = await Employee.create(name="Boss", role=Role.SUPERVISOR, team="main", tg_id=902)
    await Employee.create(name="North boss", role=Role.SUPERVISOR, team="north", tg_id=903)
    [notice] = await mark_unreachable(900)
    assert (notice.employee_id, notice.kind) == (boss.id, NoticeKind.UNREACHABLE)
    assert notice.params == {"rep_id": rep.id, "waiting": 0}
    assert not (await Employee.get(id=rep.id)).reachable
    assert await mark_unreachable(900) == []  # a second 403 of the same spell says nothing
    assert await mark_unreachable(12345) == []  # not an employee (a client)

    # Back: he wrote. The next spell is told again; with the supervisor unreachable, to admins.
    rep = await Employee.get(id=rep.id)
    assert await mark_reachable(rep) and rep.reachable
    assert not await mark_reachable(rep)
    await Employee.filter(id=boss.id).update(reachable=False)
    assert [n.employee_id for n in await mark_unreachable(900)] == [admin.id]


async def test_overseers_are_the_team_supervisors_else_the_admins(db_url: str) -> None:
    assert await overseers("main") == []
    admin = await Employee.create(name="Root", role=Role.ADMIN, team="x", tg_id=901)
    await Employee.create(name="Gone", role=Role.ADMIN, team="x", tg_id=904, active=False)
    assert await overseers("main") == [admin.id]
    boss = await Employee.create(name="Boss", role=Role.SUPERVISOR, team="main", tg_id=902)
    assert await overseers("main") == [boss.id]
    assert await overseers("north") == [admin.id]
