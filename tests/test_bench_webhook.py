"""The webhook benchmark at a tiny scale, so it cannot rot: one short round on SQLite and
PostgreSQL with `nextstep run` in its own process; presses succeed and every figure is produced.
No speed checks."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench import webhook_bench, webhook_rig
from config.playbook import load_playbook


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    EXECUTOR_CACHE.clear()
    return str(request.param)


def test_press_data_is_what_the_card_keyboards_send() -> None:
    playbook = load_playbook()
    busy = webhook_rig.press_data(playbook, 42, webhook_rig.Outcome("busy"))
    assert busy == ["a:42:no_answer", "a:42:busy"]  # the sub-menu first, then the sub-button
    refused = webhook_rig.press_data(playbook, 42, webhook_rig.Outcome("refused", "no_need"))
    assert refused == ["a:42:refused", "r:42:refused:2"]
    assert webhook_rig.press_data(playbook, 42, webhook_rig.Outcome("paid")) == ["a:42:paid"]


async def test_one_round_of_the_webhook_bench(kind: str) -> None:
    # A task of its own: Tortoise keeps its set-up in a context variable.
    figures = await asyncio.create_task(webhook_bench.bench_webhook(kind, 2_000, seconds=1.0))
    for _, hook in figures.phases():  # at work (with think time), then flat out
        assert hook.failures == 0 and hook.violations == 0
        assert hook.outcomes > 0 and hook.presses > hook.outcomes  # menu presses came first
        for timing in hook.timings:
            assert 0 < timing.first <= timing.last and timing.answer > 0
        assert hook.cpu.bot > 0 and hook.cpu.bench > 0
    for run in (figures.engine, figures.engine_feed):
        assert run.ops > 0 and run.failures == 0
    table = webhook_bench.report([figures])
    verdict = next(line for line in table if line.startswith("webhook p99"))
    assert verdict.endswith(("PASS", "MISS"))
