"""The pipeline shared by several workers over one database: seeding at start and edits."""

from __future__ import annotations

import asyncio

from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from crm.pipeline import load_pipeline
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
    await asyncio.gather(*(load_pipeline(w) for w in workers))

    file_keys = [s.key for s in load_playbook().stages]
    stored = await Stage.all().order_by("position").values_list("key", "position")
    assert stored == [(key, i) for i, key in enumerate(file_keys)]
    for w in workers:
        assert [s.key for s in w.playbook.stages] == file_keys
