"""The benchmark code at a tiny scale, so it cannot rot: the generator's data keeps the store's
rules, and one round of every store-bench phase runs on SQLite and PostgreSQL. No speed checks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench import store_bench
from bench.dataset import generate, scratch_store
from storage.db import store
from storage.models import (
    Contact,
    ContactField,
    ContactPhone,
    Deal,
    DealField,
    DealStatus,
    Employee,
    Role,
    Task,
)

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    EXECUTOR_CACHE.clear()
    return str(request.param)


async def _check_dataset(kind: str) -> None:
    async with scratch_store(kind) as url:
        info = await generate(url, 2_000, reps=12, seed=3, now=NOW)
        async with store(url):
            assert await Deal.all().count() == 2_000
            assert await Employee.filter(role=Role.REP).count() == 12 == len(info.reps)
            assert await ContactPhone.all().count() == await Contact.all().count() == 2_000
            open_deals = await Deal.filter(status=DealStatus.OPEN).count()
            assert open_deals == info.open_deals and 0 < open_deals < 2_000
            # One open task per open deal, none on a closed one.
            assert await Task.filter(status="open").count() == open_deals
            assert (
                await Task.filter(status="open", deal__status=DealStatus.OPEN).count() == open_deals
            )
            assert info.queue == 100 == await Task.filter(status="open", assignee_id=None).count()
            # Custom field values: products on four deals in five, cities on half the contacts.
            assert await DealField.filter(key="product").count() == 1_600
            assert await ContactField.filter(key="city", folded="казань").count() == 200
            newest = await Deal.all().order_by("-created_at").first()
            assert newest is not None and newest.created_at <= NOW
            # The partial unique index came back after the load.
            task = await Task.filter(status="open").first()
            assert task is not None
            with pytest.raises(Exception, match=r"(?i)unique"):
                await Task.create(
                    deal_id=task.deal_id,  # type: ignore[attr-defined]
                    kind="call",
                    due_at=NOW,
                    team="north",
                    created_at=NOW,
                )


async def test_generated_store_keeps_the_rules(kind: str) -> None:
    # A task of its own: Tortoise keeps its set-up in a context variable.
    await asyncio.create_task(_check_dataset(kind))


async def test_one_round_of_the_store_bench(kind: str) -> None:
    figures = await asyncio.create_task(store_bench.bench_store(kind, 3_000, seconds=0.3))
    for run in (*figures.ours.values(), *figures.raw.values()):
        assert run.ops > 0 and run.failures == 0
    assert figures.claims.run.ops > 0 and figures.claims.run.failures == 0
    assert figures.claims.doubles == 0
    assert any("our/raw" in line for line in store_bench.report([figures]))
