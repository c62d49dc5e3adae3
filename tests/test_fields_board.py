"""Custom fields on the board (SQLite and PostgreSQL): filtered by `field.<key>=<value>`, found by
`q=key:value`, and a drag into a stage that needs a field answers which fields, moving nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.playbook import Playbook, load_playbook
from crm import fields
from crm.board import FilterError, board_filters, load_board
from crm.board_actions import Ask, MoveStatus, move
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from storage.models import Deal, Employee, Role, Task, TaskStatus
from tests.conftest import FakeClock

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def _requiring_product_to_pay() -> Playbook:
    data = load_playbook().model_dump()
    for f in data["fields"]:
        if f["key"] == "product":
            f["required_in"] = ["paid"]
    return Playbook.model_validate(data)


async def _deal(crm: Crm, rep: Employee, n: int) -> Deal:
    added = await quick_add(crm, ContactDraft(name=f"Client {n}", phones=(f"+7495100{n:04d}",)),
                            owner_id=rep.id, team=rep.team)
    assert added.deal is not None
    return added.deal


async def test_board_filters_and_search_by_field(db_url: str) -> None:
    crm = Crm(_requiring_product_to_pay(), FakeClock(NOW))
    rep = await Employee.create(name="rep", role=Role.REP, team="main")
    one, two = await _deal(crm, rep, 1), await _deal(crm, rep, 2)
    await fields.set_options(crm.playbook.field("product"), one.id, ["pro"])  # type: ignore[arg-type]
    await fields.set_field(crm.playbook.field("city"), two.id, "Казань", NOW)  # type: ignore[arg-type]

    async def clients(**params: str) -> list[str]:
        board = await load_board(crm, await board_filters(crm, rep, params))
        return sorted(card.client for col in board.columns for card in col.cards)

    assert await clients(**{"field.product": "Профи"}) == ["Client 1"]
    assert await clients(**{"field.product": "pro,basic", "field.city": "казань"}) == []
    assert await clients(**{"field.Город": "Казань"}) == ["Client 2"]
    assert await clients(q="city:Казань") == ["Client 2"]
    with pytest.raises(FilterError):
        await board_filters(crm, rep, {"field.product": "gold"})
    with pytest.raises(FilterError):
        await board_filters(crm, rep, {"field.weather": "sunny"})

    task = await Task.get(deal_id=two.id, status=TaskStatus.OPEN)
    deal = await Deal.get(id=two.id)
    asked = await move(crm, rep, Ask(two.id, task.id, deal.version), "paid")
    assert asked.status == MoveStatus.NEEDS_FIELDS and asked.fields == ("product",)
    assert (await Deal.get(id=two.id)).stage == "new"
    await fields.set_options(crm.playbook.field("product"), two.id, ["basic"])  # type: ignore[arg-type]
    done = await move(crm, rep, Ask(two.id, task.id, deal.version), "paid")
    assert done.status == MoveStatus.DONE
