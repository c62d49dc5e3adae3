"""Fixtures of the end-to-end harness; see tests/e2e/harness.py for what they give."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from crm.clock import FakeClock
from tests.e2e.harness import Harness, running_harness

HarnessFactory = Callable[..., contextlib.AbstractAsyncContextManager[Harness]]


def _fail_on_violations(harness: Harness) -> None:
    if harness.api.violations:
        pytest.fail("Bot API violations:\n" + "\n".join(map(str, harness.api.violations)))


@pytest_asyncio.fixture
async def harness(db_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_harness(db_url, clock) as h:
        yield h
    _fail_on_violations(h)


@pytest_asyncio.fixture
async def webhook_harness(db_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_harness(db_url, clock, webhook=True) as h:
        yield h
    _fail_on_violations(h)


@pytest.fixture
def make_harness(db_url: str, clock: FakeClock) -> HarnessFactory:
    """`async with make_harness(rate_limits=RateLimits(...), rates=Rates(...), **settings)`."""

    @contextlib.asynccontextmanager
    async def make(**options: Any) -> AsyncIterator[Harness]:
        async with running_harness(db_url, clock, **options) as h:
            yield h
        _fail_on_violations(h)

    return make
