"""Pytest fixtures for the fake Bot API; import them into a conftest.py to use them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tests.fakes import FakeBotAPI


@pytest_asyncio.fixture
async def fake_botapi() -> AsyncIterator[FakeBotAPI]:
    """A running fake; the test fails at teardown if the bot broke the Bot API contract.

    A test that provokes violations on purpose takes them with ``api.take_violations()``.
    """
    async with FakeBotAPI() as api:
        yield api
    if api.violations:
        pytest.fail("Bot API violations:\n" + "\n".join(map(str, api.violations)))


@pytest_asyncio.fixture
async def fake_bot(fake_botapi: FakeBotAPI) -> AsyncIterator[Bot]:
    """An aiogram Bot whose requests go to ``fake_botapi`` over HTTP."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_botapi.base_url))
    bot = Bot(fake_botapi.token, session=session)
    yield bot
    await session.close()
