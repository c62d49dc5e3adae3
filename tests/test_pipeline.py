"""The pipeline shared by several workers over one database: seeding at start and edits."""

from __future__ import annotations

import asyncio
import logging

import pytest

from config.playbook import Playbook, load_playbook
from crm import pipeline
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, find_or_create_contact, open_deal
from storage.models import Deal, Stage, TimelineEvent


def worker(clock: FakeClock) -> Crm:
    """What one worker process holds: its own Crm with its own copy of the playbook."""
    return Crm(load_playbook(), clock)


async def test_workers_seeding_together_store_each_stage_once(
    db_url: str, clock: FakeClock
) -> None:
    workers = [worker(clock) for _ in range(3)]
    # All find the table empty before any inserts: the start-up race of several processes.
    # On PostgreSQL each runs on a connection of its own from the pool.
    await asyncio.gather(*(pipeline.load_pipeline(w) for w in workers))

    file_keys = [s.key for s in load_playbook().stages]
    stored = await Stage.all().order_by("position").values_list("key", "position")
    assert stored == [(key, i) for i, key in enumerate(file_keys)]
    for w in workers:
        assert [s.key for s in w.playbook.stages] == file_keys


async def test_an_edit_through_one_worker_reaches_another_on_its_refresh(
    db_url: str, clock: FakeClock
) -> None:
    editor, other = worker(clock), worker(clock)
    await pipeline.load_pipeline(editor)
    await pipeline.load_pipeline(other)

    assert await pipeline.rename_stage(editor, "new", "ru", "Входящий") is None
    assert await pipeline.set_button_label(editor, "paid", "en", "Money in") is None
    assert await pipeline.add_stage(editor, "meeting", "Встреча") is None
    assert await pipeline.move_stage(editor, "meeting", -1) is None
    # The other worker still renders what it loaded: nothing told it yet.
    assert other.playbook.stage("new").name.ru == "Новый лид"

    await pipeline.refresh_pipeline(other)  # its clock's "pipeline" job
    assert other.playbook.stage("new").name.ru == "Входящий"
    assert other.playbook.buttons["paid"].label.en == "Money in"
    assert [s.key for s in other.playbook.stages] == [s.key for s in editor.playbook.stages]
    assert "meeting" in {s.key for s in other.playbook.stages}


async def test_a_refresh_with_nothing_changed_keeps_the_playbook(
    db_url: str, clock: FakeClock
) -> None:
    crm = worker(clock)
    await pipeline.load_pipeline(crm)
    await pipeline.set_button_label(crm, "paid", "ru", "Деньги пришли")
    loaded = crm.playbook
    await pipeline.refresh_pipeline(crm)
    assert crm.playbook is loaded


async def a_deal(crm: Crm) -> Deal:
    draft = ContactDraft(name="Anna", phones=("+74951234567",))
    contact, _ = await find_or_create_contact(crm, draft)
    return await open_deal(crm, contact, owner_id=None, team="main")


async def tables() -> tuple[list[tuple[str, int]], list[tuple[int, str]], int]:
    """What a removal writes: the stages, where the deals sit, the timeline."""
    stages = await Stage.all().order_by("position").values_list("key", "position")
    deals = await Deal.all().order_by("id").values_list("id", "stage")
    return stages, deals, await TimelineEvent.all().count()  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("key", "in_use"),
    [
        ("in_progress", pipeline.StageInUse(buttons=("call_back",), ladders=())),
        ("invoice_sent", pipeline.StageInUse(buttons=("invoice_sent",), ladders=())),
        ("paid", pipeline.StageInUse(buttons=("paid",), ladders=())),
        ("refused", pipeline.StageInUse(buttons=("refused",), ladders=())),
        ("archive", pipeline.StageInUse(buttons=(), ladders=("no_answer",))),
    ],
)
async def test_a_stage_the_playbook_names_is_not_removed(
    db_url: str, clock: FakeClock, key: str, in_use: pipeline.StageInUse
) -> None:
    crm = worker(clock)
    await pipeline.load_pipeline(crm)
    deal = await a_deal(crm)
    await Deal.filter(id=deal.id).update(stage=key)
    before, loaded = await tables(), crm.playbook

    assert await pipeline.remove_stage(crm, key, "new") == in_use
    assert await tables() == before
    assert crm.playbook is loaded
    await pipeline.refresh_pipeline(crm)  # the clock's job finds nothing to rebuild
    assert crm.playbook is loaded


async def test_a_stage_nothing_names_is_removed_and_its_deals_move_where_the_admin_said(
    db_url: str, clock: FakeClock
) -> None:
    crm = worker(clock)
    await pipeline.load_pipeline(crm)
    deal = await a_deal(crm)
    assert deal.stage == "new"

    assert await pipeline.remove_stage(crm, "new", "invoice_sent") == 1
    assert (await Deal.get(id=deal.id)).stage == "invoice_sent"
    keys = ["in_progress", "invoice_sent", "paid", "refused", "archive"]
    assert await Stage.all().order_by("position").values_list("key", flat=True) == keys
    assert [s.key for s in crm.playbook.stages] == keys


async def test_a_removal_that_would_leave_no_valid_playbook_is_refused(
    db_url: str, clock: FakeClock
) -> None:
    # A playbook file of two open stages and nothing else: one of them alone is too few.
    default = load_playbook()
    stages = [s.model_dump() | {"buttons": ()} for s in default.stages[:2]]
    two = Playbook.model_validate(
        default.model_dump() | {"stages": stages, "buttons": {}, "ladders": {}}
    )
    crm = Crm(two, clock)
    await pipeline.load_pipeline(crm)
    assert await pipeline.remove_stage(crm, "in_progress", "new") == (
        pipeline.EditError.BREAKS_PLAYBOOK
    )
    assert await Stage.all().count() == 2


async def test_tables_that_make_no_playbook_keep_the_current_one_and_are_logged_once(
    db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    crm = worker(clock)
    await pipeline.load_pipeline(crm)
    loaded = crm.playbook
    await Stage.filter(key="in_progress").delete()  # by hand: Call back now leads nowhere

    with caplog.at_level(logging.ERROR, logger="crm.pipeline"):
        for _ in range(3):  # the clock's "pipeline" job, tick after tick
            await pipeline.refresh_pipeline(crm)
    assert crm.playbook is loaded
    assert ["unknown stage 'in_progress'" in r.getMessage() for r in caplog.records] == [True]

    # Mended from /pipeline: the stage is back and the next refresh takes the tables again.
    caplog.clear()
    assert await pipeline.add_stage(crm, "in_progress", "Снова в работе") is None
    assert crm.playbook.stage("in_progress").name.ru == "Снова в работе"
    assert not caplog.records
