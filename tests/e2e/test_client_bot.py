"""A separate client bot (NEXTSTEP_CLIENT_BOT_TOKEN), end to end over one fake serving both
tokens: clients talk only to the client bot, employees only to the staff bot, and text, photos
and documents cross between them (a file_id is valid only for the bot that saw the file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.botapi.spec import Upload
from storage.models import ChatMessage, Contact, Deal, EventKind, TimelineEvent
from tests.e2e.conftest import HarnessFactory
from tests.e2e.harness import CLIENT_TOKEN, Harness, Staff
from tests.fakes import User

Json = dict[str, Any]


@pytest.fixture
async def two_bots(make_harness: HarnessFactory) -> AsyncIterator[Harness]:
    async with make_harness(client_bot_token=CLIENT_TOKEN) as h:
        yield h


def _relayed(messages: list[Json]) -> Json:
    """The relayed copy of a client's message: the one with a Reply button."""
    return next(
        m for m in reversed(messages)
        if any(b.get("callback_data", "").startswith("rp:")
               for row in m.get("reply_markup", {}).get("inline_keyboard", []) for b in row)
        and (m.get("text") or m.get("caption") or "").startswith(("💬", "🆕"))
    )


def _reply_data(message: Json) -> str:
    rows = message["reply_markup"]["inline_keyboard"]
    return next(b["callback_data"] for row in rows for b in row if b["callback_data"][:3] == "rp:")


def assert_bots_kept_apart(h: Harness, rep: Staff, client: User) -> None:
    """The staff bot never writes to the client; the client bot never to the rep."""
    assert [c.method for c in h.api.calls() if c.chat_id == client.id] == []
    assert [c.method for c in h.client_api.calls() if c.chat_id == rep.user.id] == []


async def test_client_bot_lead_card_replies_and_stop(two_bots: Harness) -> None:
    h = two_bots
    rep = await h.make_employee("rep", name="Ivan")
    client = h.user("Anna")

    said = await h.say(client, "Здравствуйте, сколько стоит?", via=h.client_api)
    [greeting] = h.client_api.messages_to(client.id)
    assert "менеджер скоро ответит" in greeting["text"]
    [card] = [m for m in said.to(rep.user.id) if m["text"].startswith("🆕")]
    assert "Anna" in card["text"] and "сколько стоит" in card["text"]
    relayed = _relayed(h.api.messages_to(rep.user.id))
    assert "сколько стоит" in relayed["text"]
    deal = await Deal.get(contact__tg_user_id=client.id)
    assert deal.owner_id == rep.employee.id  # type: ignore[attr-defined]

    # A Telegram reply to the relayed copy reaches the client from the client bot.
    answer = await h.deliver(h.api.message(rep.user, "1000 ₽", reply_to=relayed["message_id"]))
    assert [m["text"] for m in answer.to(client.id)] == ["1000 ₽"]
    assert h.client_api.messages_to(client.id)[-1]["text"] == "1000 ₽"
    assert "Отправлено" in h.api.messages_to(rep.user.id)[-1]["text"]

    # The client writes again: the same deal, the rep gets it from the staff bot.
    await h.say(client, "А доставка?", via=h.client_api)
    again = _relayed(h.api.messages_to(rep.user.id))
    assert "доставка" in again["text"]
    assert await Deal.all().count() == 1

    # The Reply button, then the text.
    pressed = await h.press(rep.user, _reply_data(again), again)
    assert pressed.answer is not None and pressed.answer.ok
    await h.say(rep.user, "Доставка бесплатно")
    assert h.client_api.messages_to(client.id)[-1]["text"] == "Доставка бесплатно"

    kinds = await TimelineEvent.filter(deal_id=deal.id).order_by("id").values_list(
        "kind", flat=True
    )
    assert kinds == [
        EventKind.CREATED, EventKind.MSG_IN, EventKind.MSG_OUT, EventKind.MSG_IN,
        EventKind.MSG_OUT,
    ]

    # /stop on the client bot: confirmed there, and the rep's next reply is refused.
    stopped = await h.say(client, "/stop", via=h.client_api)
    assert len(stopped.to(client.id)) == 1
    assert (await Contact.get(tg_user_id=client.id)).stopped
    before = len(h.client_api.messages_to(client.id))
    refused = await h.deliver(h.api.message(rep.user, "Вы тут?", reply_to=again["message_id"]))
    assert len(h.client_api.messages_to(client.id)) == before
    assert "/stop" in refused.to(rep.user.id)[-1]["text"]
    assert_bots_kept_apart(h, rep, client)


async def test_menus_clients_on_the_client_bot_employees_on_the_staff_bot(
    two_bots: Harness,
) -> None:
    h = two_bots
    rep = await h.make_employee("rep")
    await h.client_api.wait_for("setMyCommands")
    scopes = {c.params.get("scope", {}).get("type", "default")
              for c in h.client_api.calls("setMyCommands")}
    assert scopes == {"default"}
    rep_menu = [c for c in h.api.calls("setMyCommands")
                if c.params.get("scope", {}).get("chat_id") == rep.user.id]
    assert rep_menu and "next" in {cmd["command"] for cmd in rep_menu[-1].params["commands"]}
    assert [c for c in h.api.calls("setMyCommands")
            if c.params.get("scope", {}).get("type", "default") == "default"] == []


async def test_photos_and_documents_cross_between_the_bots(two_bots: Harness) -> None:
    h = two_bots
    rep = await h.make_employee("rep")
    client = h.user("Boris")
    await h.say(client, "привет", via=h.client_api)

    # Client -> rep: the staff bot cannot use the client bot's file_id, so it re-uploads.
    photo = await h.deliver(h.client_api.message(
        client, "вот фото", photo=True, file_data=b"\x89PNG client photo"), via=h.client_api)
    [sent_photo] = [c for c in photo.calls if c.method == "sendPhoto"]
    assert sent_photo.chat_id == rep.user.id
    assert isinstance(sent_photo.params["photo"], Upload)
    assert sent_photo.params["photo"].data == b"\x89PNG client photo"
    assert "вот фото" in sent_photo.result["caption"]

    document = await h.deliver(h.client_api.message(
        client, "договор", document="contract.pdf", file_data=b"%PDF client"), via=h.client_api)
    [sent_doc] = [c for c in document.calls if c.method == "sendDocument"]
    assert sent_doc.chat_id == rep.user.id
    assert sent_doc.params["document"].data == b"%PDF client"
    assert sent_doc.result["document"]["file_name"] == "contract.pdf"

    # Rep -> client: a Telegram reply with a photo, then the Reply button and a document.
    relayed = sent_doc.result
    back = await h.deliver(h.api.message(
        rep.user, "наш каталог", reply_to=relayed["message_id"], photo=True,
        file_data=b"\x89PNG catalogue"))
    [to_client] = [c for c in back.calls if c.method == "sendPhoto"]
    assert to_client.chat_id == client.id
    assert to_client.params["photo"].data == b"\x89PNG catalogue"
    assert to_client.result["caption"] == "наш каталог"
    assert h.client_api.file_content(to_client.result["photo"][-1]["file_id"]) == (
        b"\x89PNG catalogue"
    )

    await h.press(rep.user, _reply_data(relayed), relayed)
    offer = await h.deliver(h.api.message(
        rep.user, "счёт", document="invoice.pdf", file_data=b"%PDF invoice"))
    [doc_to_client] = [c for c in offer.calls if c.method == "sendDocument"]
    assert doc_to_client.chat_id == client.id
    assert doc_to_client.params["document"].data == b"%PDF invoice"
    assert doc_to_client.result["document"]["file_name"] == "invoice.pdf"

    media = await ChatMessage.all().order_by("id").values_list("incoming", "media_kind")
    assert media == [
        (True, None), (True, "photo"), (True, "document"), (False, "photo"), (False, "document"),
    ]
    assert_bots_kept_apart(h, rep, client)


async def test_a_rep_off_shift_gets_no_new_leads_until_he_is_back(two_bots: Harness) -> None:
    h = two_bots
    anna = await h.make_employee("rep", name="Anna")
    boris = await h.make_employee("rep", name="Boris", lang="en")
    menu = [c for c in h.api.calls("setMyCommands")
            if c.params.get("scope", {}).get("chat_id") == boris.user.id][-1]
    assert "shift" in {cmd["command"] for cmd in menu.params["commands"]}

    off = await h.say(boris.user, "/shift")
    assert off.text == "You are off shift"
    assert [b["text"] for b in off.buttons] == ["Start shift"]

    async def owners_of_new_leads(n: int) -> list[int]:
        before = await Deal.all().count()
        for _ in range(n):
            await h.say(h.user("Client"), "hi", via=h.client_api)
        deals = await Deal.all().order_by("id").offset(before)
        return [d.owner_id for d in deals]  # type: ignore[attr-defined]

    assert await owners_of_new_leads(3) == [anna.employee.id] * 3

    back = await h.press_text(boris.user, off.last, "Start shift")
    assert back.answer is not None and back.answer.params["text"] == "You are on shift"
    assert [b["text"] for b in back.buttons] == ["End shift"]
    assert await owners_of_new_leads(2) == [boris.employee.id, anna.employee.id]

    # In Russian, and from /help's button as well.
    helped = await h.say(anna.user, "/help")
    assert "/shift" in helped.text
    ended = await h.press_text(anna.user, helped.last, "Закончить смену")
    assert ended.answer is not None and ended.answer.params["text"] == "Вы не на смене"
    assert await owners_of_new_leads(2) == [boris.employee.id] * 2
    assert (await h.say(anna.user, "/shift")).text == "Вы на смене"
