"""The pipeline shared by several workers over one database: seeding at start and edits."""

from __future__ import annotations

import asyncio
import logging

import pytest

from config.playbook import load_playbook
from crm import pipeline
from crm.clock import FakeClock
from crm.context import Crm
from storage.models import Stage


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
