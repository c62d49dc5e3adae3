"""An employee's own settings, written by the domain (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from crm.staff import set_conveyor, set_language
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
