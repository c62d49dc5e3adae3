"""What the Bot API stand-in added for the demo: chat actions, the menu button, the observers the
web chat listens with, and files a user downloads the way the bot does."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, MenuButtonCommands

from sandbox.botapi import Call
from tests.fakes import FakeBotAPI
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
