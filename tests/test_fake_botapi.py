"""The fake Bot API against a real aiogram Bot, and proof that each validation rule bites."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.filters import Command
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from sandbox.botapi.spec import decode_form, load_spec
from tests.fakes import FakeBotAPI, RateLimits, User
from tests.fakes.fixtures import fake_bot, fake_botapi

__all__ = ["fake_bot", "fake_botapi"]  # fixtures used by name below

REP = User(1001, "Ivan", username="ivan_rep")
CLIENT = User(2002, "Olga", language_code="en")
ROOT = Path(__file__).resolve().parents[1]


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(text=text, callback_data=data) for text, data in pairs]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


async def raw(
    api: FakeBotAPI, method: str, data: Any = None, *, json_body: Any = None
) -> tuple[int, dict[str, Any]]:
    """A request aiogram would never send, to reach the fake's own checks."""
    url = f"{api.base_url}/bot{api.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(
        url, data=data, json=json_body
    ) as response:
        return response.status, await response.json()


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run a local app (the bot's webhook side) and give its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


# -- aiogram against the fake -------------------------------------------------------------


async def test_send_edit_and_the_errors_telegram_gives(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    api = fake_botapi
    first = await fake_bot.send_message(
        REP.id, "<b>Olga</b> &amp; Co", parse_mode="HTML", reply_markup=keyboard(("Call", "c:1"))
    )
    second = await fake_bot.send_message(REP.id, "plain")
    other_chat = await fake_bot.send_message(CLIENT.id, "hello")

    assert (first.message_id, second.message_id, other_chat.message_id) == (1, 2, 1)
    assert first.text == "Olga & Co"  # markup is parsed away, as Telegram does
    assert first.from_user is not None and first.from_user.id == api.me["id"]
    assert first.reply_markup is not None
    assert first.reply_markup.model_dump() == keyboard(("Call", "c:1")).model_dump()
    assert [m["text"] for m in api.messages_to(REP.id)] == ["Olga & Co", "plain"]

    undo = keyboard(("Undo", "u"))
    edited = await fake_bot.edit_message_text(
        "Done", chat_id=REP.id, message_id=first.message_id, reply_markup=undo
    )
    assert isinstance(edited, Message) and edited.text == "Done" and edited.edit_date
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await fake_bot.edit_message_text(
            "Done", chat_id=REP.id, message_id=first.message_id, reply_markup=undo
        )
    # Without reply_markup the keyboard goes, so this is a modification.
    await fake_bot.edit_message_text("Done", chat_id=REP.id, message_id=first.message_id)
    assert "reply_markup" not in api.messages_to(REP.id)[0]
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await fake_bot.edit_message_text("x", chat_id=REP.id, message_id=99)


async def test_uploads_commands_and_copies(fake_botapi: FakeBotAPI, fake_bot: Bot) -> None:
    api = fake_botapi
    chart = BufferedInputFile(b"\x89PNG", "chart.png")
    photo = await fake_bot.send_photo(REP.id, chart, caption="Q3")
    document = await fake_bot.send_document(REP.id, BufferedInputFile(b"a,b\n", "deals.csv"))
    assert photo.photo and photo.caption == "Q3"
    assert document.document and document.document.file_name == "deals.csv"
    sent = api.calls("sendDocument")[0].params["document"]
    assert (sent.filename, sent.data) == ("deals.csv", b"a,b\n")

    scope = BotCommandScopeChat(chat_id=REP.id)
    assert await fake_bot.set_my_commands([BotCommand(command="next", description="Next")], scope)
    commands = await fake_bot.get_my_commands(scope=scope)
    assert [(c.command, c.description) for c in commands] == [("next", "Next")]

    incoming = api.message(CLIENT, "Need an invoice")["message"]
    copied = await fake_bot.copy_message(REP.id, CLIENT.id, incoming["message_id"])
    assert api.find_message(REP.id, copied.message_id)["text"] == "Need an invoice"  # type: ignore[index]
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await fake_bot.copy_message(REP.id, CLIENT.id, 404)


async def test_polling_dispatcher_gets_pushed_updates_and_replies(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    api = fake_botapi
    dp = Dispatcher()

    @dp.message(Command("start"))
    async def start(message: Message) -> None:
        await message.answer("Your task", reply_markup=keyboard(("Called", "done")))

    @dp.callback_query(F.data == "done")
    async def done(query: CallbackQuery) -> None:
        await query.answer("Saved")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Task closed")

    polling = asyncio.create_task(
        dp.start_polling(fake_bot, handle_signals=False, polling_timeout=1)
    )
    try:
        api.push_update(api.command(REP, "start"))
        card = (await api.wait_for("sendMessage")).result
        api.push_update(api.press(REP, card, "Called"))
        await api.wait_for("answerCallbackQuery")
        await api.wait_for("editMessageText")
    finally:
        await dp.stop_polling()
        await polling
    assert api.calls()[0].method == "getMe"
    assert not api.unanswered_callbacks
    assert api.messages_to(REP.id)[0]["text"] == "Task closed"
    with pytest.raises(LookupError):
        api.press(REP, card, "Called")  # the edit removed the keyboard


async def test_get_updates_holds_confirms_by_offset_and_filters(fake_botapi: FakeBotAPI) -> None:
    api = fake_botapi
    held = asyncio.create_task(raw(api, "getUpdates", {"timeout": "5"}))
    await asyncio.sleep(0.05)
    assert not held.done()
    first = api.push_update(api.message(CLIENT, "hi"))
    status, body = await asyncio.wait_for(held, 1)  # answered on arrival, not at the timeout
    assert status == 200 and body["result"] == [first]

    api.push_update(api.callback(CLIENT, "forged", 1, strict=False))
    third = api.push_update(api.message(CLIENT, "again"))
    _, body = await raw(api, "getUpdates", {"offset": str(first["update_id"] + 1),
                                            "allowed_updates": '["message"]'})
    assert body["result"] == [third]
    _, body = await raw(api, "getUpdates", {"offset": str(third["update_id"] + 1)})
    assert body["result"] == []


async def test_second_poller_gets_conflict(fake_botapi: FakeBotAPI) -> None:
    older = asyncio.create_task(raw(fake_botapi, "getUpdates", {"timeout": "5"}))
    await asyncio.sleep(0.05)
    newer = asyncio.create_task(raw(fake_botapi, "getUpdates", {"timeout": "5"}))
    status, body = await asyncio.wait_for(older, 1)
    assert status == 409 and "terminated by other getUpdates" in body["description"]
    fake_botapi.push_update(fake_botapi.message(CLIENT, "hi"))
    assert (await asyncio.wait_for(newer, 1))[0] == 200


async def test_webhook_reply_is_read_validated_and_timed(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    api = fake_botapi
    dp = Dispatcher()

    @dp.message(Command("ping"))
    async def ping(message: Message) -> SendMessage:
        return message.answer("pong")

    app = web.Application()
    handler = SimpleRequestHandler(dp, fake_bot, handle_in_background=False, secret_token="s3cret")
    handler.register(app, path="/hook")
    async with serving(app) as base:
        url = f"{base}/hook"
        await fake_bot.set_webhook(url, secret_token="s3cret")
        delivery = await api.post_update(url, api.command(CLIENT, "ping"))
        refused = await api.post_update(url, api.command(CLIENT, "ping"), secret_token="wrong")
    assert delivery.status == 200 and delivery.elapsed > 0
    assert delivery.reply is not None and delivery.reply.ok and delivery.reply.via_webhook
    assert delivery.reply.method == "sendMessage"
    assert delivery.reply.params["text"] == "pong" and delivery.reply.chat_id == CLIENT.id
    assert api.messages_to(CLIENT.id)[-1]["text"] == "pong"
    assert refused.status == 401 and refused.reply is None
    with pytest.raises(TelegramConflictError):
        await fake_bot.get_updates()


async def test_webhook_json_reply_is_validated(fake_botapi: FakeBotAPI) -> None:
    async def reply(_: web.Request) -> web.Response:
        too_long = {"method": "sendMessage", "chat_id": CLIENT.id, "text": "x" * 4097}
        return web.json_response(too_long)

    app = web.Application()
    app.router.add_post("/hook", reply)
    async with serving(app) as base:
        update = fake_botapi.message(CLIENT, "hi")
        delivery = await fake_botapi.post_update(f"{base}/hook", update)
    assert delivery.reply is not None and delivery.reply.error_code == 400
    assert [v.reason for v in fake_botapi.take_violations()] == [
        "text: 4097 characters, allowed 1-4096"
    ]


async def test_429_and_403_reach_aiogram_as_its_exceptions(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    fake_botapi.fail_next("sendmessage", 1, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as retry:
        await fake_bot.send_message(REP.id, "card")
    assert retry.value.retry_after == 3
    await fake_bot.send_message(REP.id, "card")  # only the next one fails
    assert fake_botapi.served_429 == {"sendMessage": 1}

    fake_botapi.block(CLIENT.id)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await fake_bot.send_message(CLIENT.id, "reply")
    assert [m["text"] for m in fake_botapi.messages_to(REP.id)] == ["card"]


async def test_strict_chats_let_a_bot_write_only_to_users_who_wrote_to_it(
    fake_botapi: FakeBotAPI, fake_bot: Bot
) -> None:
    fake_botapi.strict_chats = True
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await fake_bot.send_message(CLIENT.id, "hello")
    fake_botapi.push_update(fake_botapi.message(CLIENT, "hi"))
    await fake_bot.send_message(CLIENT.id, "hello")
    assert [m["text"] for m in fake_botapi.messages_to(CLIENT.id)] == ["hello"]


async def test_rate_limits_per_chat_overall_and_per_group() -> None:
    limits = RateLimits(per_bot_per_second=3, per_group_per_minute=2)
    async with FakeBotAPI(rate_limits=limits) as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot(api.token, session=session)
        try:
            await bot.send_message(1, "a")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(1, "b")  # second message to one chat within a second
            await bot.send_message(2, "c")
            await bot.send_message(3, "d")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(4, "e")  # fourth message to the bot within a second
            api.rate_limits = RateLimits(per_group_per_minute=2)
            await asyncio.sleep(1.0)  # let the one-second windows pass
            await bot.send_message(-100123, "f")
            await bot.send_message(-100123, "g")
            with pytest.raises(TelegramRetryAfter) as retry:
                await bot.send_message(-100123, "h")
            assert retry.value.retry_after > 50
        finally:
            await session.close()
    assert api.served_429["sendMessage"] == 3 and not api.violations


# -- every validation rule catches its violation ------------------------------------------

def inline(**button: Any) -> str:
    return json.dumps({"inline_keyboard": [[button]]})


MSG = {"chat_id": "1", "text": "x"}
PHONE_KEYBOARD_WITH_INT_FLAG = json.dumps({"keyboard": [[{"text": "Phone", "request_contact": 1}]]})


@pytest.mark.parametrize(
    ("method", "fields", "reason"),
    [
        ("sendMesage", MSG, "unknown method"),
        ("sendMessage", MSG | {"colour": "red"}, "colour: unknown parameter"),
        ("sendMessage", {"chat_id": "1"}, "text: required"),
        ("sendMessage", MSG | {"message_thread_id": '"7"'}, "message_thread_id: expected Integer"),
        ("sendMessage", MSG | {"disable_notification": "yes"},
         "disable_notification: can't parse Boolean"),
        ("sendMessage", MSG | {"text": "x" * 4097}, "text: 4097 characters"),
        ("sendMessage", MSG | {"text": "<b></b> ", "parse_mode": "HTML"},
         "text: is empty after entity parsing"),
        ("sendMessage", MSG | {"text": "<b>x</i>", "parse_mode": "HTML"},
         "text: can't parse entities: Unmatched end tag"),
        ("sendMessage", MSG | {"text": "Done.", "parse_mode": "MarkdownV2"},
         "text: can't parse entities: Character '.' is reserved"),
        ("sendPhoto", {"chat_id": "1", "photo": "file-id", "caption": "c" * 1025},
         "caption: 1025 characters"),
        ("sendMessage", MSG | {"reply_markup": inline(text="a", callback_data="x" * 65)},
         "reply_markup.inline_keyboard[0][0].callback_data: 65 bytes"),
        # 33 characters but 66 bytes: the limit is in bytes.
        ("sendMessage", MSG | {"reply_markup": inline(text="a", callback_data="я" * 33)},
         "callback_data: 66 bytes, allowed 1-64"),
        ("sendMessage", MSG | {"reply_markup": inline(text="a", callback_data=5)},
         "reply_markup.inline_keyboard[0][0].callback_data: expected String"),
        ("sendMessage", MSG | {"reply_markup": inline(text="a", callback_data="x", colour="red")},
         "reply_markup.inline_keyboard[0][0].colour: unknown field"),
        ("sendMessage", MSG | {"reply_markup": inline(text="a")}, "exactly one action field"),
        ("sendMessage", MSG | {"reply_markup": inline(text="", callback_data="x")},
         "button text must be non-empty"),
        ("sendMessage", MSG | {"reply_markup": PHONE_KEYBOARD_WITH_INT_FLAG},
         "reply_markup.keyboard[0][0].request_contact: expected Boolean"),
        ("answerCallbackQuery", {"callback_query_id": "1", "text": "t" * 201},
         "text: 201 characters, allowed 0-200"),
        ("setMyCommands", {"commands": '[{"command": "Next", "description": "Next task"}]'},
         "commands[0]: command 'Next' may hold only"),
        ("setMyCommands", {"commands": "[]", "scope": '{"type": "user", "chat_id": 1}'},
         "scope.type: 'user' is not one of"),
        ("setMyCommands", {"commands": "[]", "scope": '{"type": "chat"}'},
         "scope.chat_id: required"),
        ("editMessageText", {"text": "x"}, "chat_id: required"),
    ],
)
async def test_validation_rule_catches_violation(
    fake_botapi: FakeBotAPI, method: str, fields: dict[str, str], reason: str
) -> None:
    status, body = await raw(fake_botapi, method, fields)
    violations = fake_botapi.take_violations()
    assert status in (400, 404) and not body["ok"]
    assert any(reason in v.reason for v in violations), violations
    assert not fake_botapi.calls()


async def test_valid_edge_values_pass_and_strings_stay_text(fake_botapi: FakeBotAPI) -> None:
    status, body = await raw(fake_botapi, "sendMessage", {"chat_id": "77", "text": "123"})
    assert status == 200 and body["result"]["text"] == "123"
    assert fake_botapi.calls()[0].params == {"chat_id": 77, "text": "123"}
    longest = {"chat_id": "77", "text": f"<b>{'x' * 4096}</b>", "parse_mode": "HTML",
               "reply_markup": inline(text="a", callback_data="x" * 64)}
    assert (await raw(fake_botapi, "SENDMESSAGE", longest))[0] == 200  # method case is ignored
    as_json = {"chat_id": 77, "text": "json body", "disable_notification": True}
    assert (await raw(fake_botapi, "sendMessage", json_body=as_json))[0] == 200


@given(st.text(min_size=1, max_size=4096).filter(str.strip))
def test_string_fields_are_never_json_decoded(text: str) -> None:
    send_message = load_spec().method("sendMessage")
    assert send_message is not None
    params, problems = decode_form(send_message, {"chat_id": "1", "text": text}, {})
    assert problems == [] and params["text"] == text


async def test_multipart_attach_must_name_a_file_part(fake_botapi: FakeBotAPI) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", "1")
    form.add_field("document", "attach://missing")
    form.add_field("other", b"data", filename="a.csv")
    status, _ = await raw(fake_botapi, "sendDocument", form)
    reasons = [v.reason for v in fake_botapi.take_violations()]
    assert status == 400
    assert reasons == [
        "document: no file part named 'missing'",
        "other: file part is not referenced by attach://",
    ]


def test_fixture_fails_the_test_on_a_violation(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent("""
        import aiohttp, pytest
        from tests.fakes.fixtures import fake_botapi

        @pytest.mark.asyncio
        async def test_sloppy(fake_botapi):
            async with aiohttp.ClientSession() as session:
                url = f"{fake_botapi.base_url}/bot{fake_botapi.token}/sendMessage"
                await session.post(url, data={"chat_id": "1"})
    """))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "1 passed, 1 error" in result.stdout
    assert "sendMessage: text: required" in result.stdout
