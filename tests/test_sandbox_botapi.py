"""What the Bot API stand-in added for the demo: chat actions, the menu button, the observers the
web chat listens with, files a user downloads the way the bot does, webhooks it POSTs to."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, MenuButtonCommands
from aiohttp import web

from sandbox.botapi import Call
from tests.fakes import FakeBotAPI, User
from tests.fakes.fixtures import fake_bot, fake_botapi

__all__ = ["fake_bot", "fake_botapi"]  # fixtures used by name below


async def test_chat_action_typing_is_accepted_and_an_unknown_action_refused(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    assert await fake_bot.send_chat_action(1001, "typing")
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await fake_bot.send_chat_action(1001, "dancing")
    assert not fake_botapi.take_violations()  # a refusal by semantics, not by the schema


async def test_menu_button_is_kept_per_chat_with_a_default(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    assert (await fake_bot.get_chat_menu_button()).type == "commands"
    await fake_bot.set_chat_menu_button(chat_id=1001, menu_button=MenuButtonCommands())
    assert fake_botapi.menu_buttons[1001] == {"type": "commands"}


async def test_observers_see_every_call_and_a_document_downloads(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    seen: list[Call] = []
    fake_botapi.observers.append(seen.append)
    sent = await fake_bot.send_document(1001, BufferedInputFile(b"a;b\r\n", "deals.csv"))
    assert [call.method for call in seen] == ["sendDocument"]
    assert sent.document is not None
    file = await fake_bot.get_file(sent.document.file_id)
    url = f"{fake_botapi.base_url}/file/bot{fake_botapi.token}/{file.file_path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert await response.read() == b"a;b\r\n"


async def test_webhook_gets_pushed_updates_in_order_until_it_answers(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    got: list[dict[str, object]] = []
    both = asyncio.Event()
    failures = [500]  # the first POST fails: Telegram tries the same update again

    async def hook(request: web.Request) -> web.Response:
        if failures:
            return web.Response(status=failures.pop())
        got.append(await request.json())
        if len(got) == 2:
            both.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        fake_botapi.deliver_webhooks = True
        await fake_bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        user = User(1001, "Ivan")
        first = fake_botapi.push_update(fake_botapi.message(user, "one"))
        second = fake_botapi.push_update(fake_botapi.message(user, "two"))
        await asyncio.wait_for(both.wait(), 10)
        assert [u["update_id"] for u in got] == [first["update_id"], second["update_id"]]
        assert (await fake_bot.get_webhook_info()).pending_update_count == 0
    finally:
        await fake_bot.delete_webhook()
        await runner.cleanup()
