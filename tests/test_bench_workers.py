"""The workers benchmark at a tiny scale, so it cannot rot: one short round of every
configuration (no nginx, nginx in front of 1, 2 and 3 workers) on PostgreSQL; presses succeed
and every figure is produced. No speed checks."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench import workers_bench

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.workers]


async def test_one_round_of_the_workers_bench() -> None:
    EXECUTOR_CACHE.clear()
    # A task of its own: Tortoise keeps its set-up in a context variable.
    measured = await asyncio.create_task(workers_bench.bench_workers("postgres", 2_000, 1.0))
    assert measured is not None
    assert [(m.workers, m.nginx) for m in measured] == list(workers_bench.CONFIGS)
    for m in measured:
        for run in (m.at_work, m.flat_out):
            assert run.failures == 0 and run.violations == 0 and run.outcomes > 0
        assert m.capacity > 0 and m.flat_out.cpu.bot > 0
    lines = workers_bench.report([measured])
    assert sum(line.endswith(("PASS", "MISS")) for line in lines) == 2
    assert await workers_bench.bench_workers("sqlite", 2_000, 1.0) is None
