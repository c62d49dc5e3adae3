"""Nobody is lost on the way to a client, end to end over the fake Bot API: switching a client
bot on keeps every client served through the bot he wrote to, an undeliverable reply tells the
rep why, and /stop holds only until the client writes again."""

from __future__ import annotations

from typing import Any

from storage.models import ChatMessage, Contact, Deal, EventKind, TimelineEvent
from tests.e2e.conftest import HarnessFactory
from tests.e2e.harness import CLIENT_TOKEN, Harness, Staff
from tests.fakes import FakeBotAPI, User

Json = dict[str, Any]


def _relayed(h: Harness, rep: Staff) -> Json:
    """The last relayed client message in the rep's chat (the staff bot's)."""
    return next(
        m for m in reversed(h.api.messages_to(rep.user.id))
        if m.get("text", "").startswith(("💬", "🆕"))
    )


async def _reply(h: Harness, rep: Staff, text: str) -> str:
    """The rep answers the last relayed message with a Telegram reply; what he is told."""
    said = await h.deliver(h.api.message(rep.user, text, reply_to=_relayed(h, rep)["message_id"]))
    return str(said.to(rep.user.id)[-1]["text"])


async def _switch_client_bot(h: Harness, token: str) -> None:
    """Restart with NEXTSTEP_CLIENT_BOT_TOKEN set to token ("" switches the client bot off).
    Both bots then refuse, as Telegram does, to start a chat with a user who never wrote."""
    if token and token not in {bot.token for bot in h.api.bots}:
        h.api.add_bot(token)
    for bot in h.api.bots:
        bot.strict_chats = True
    h.settings = h.settings.model_copy(update={"client_bot_token": token})
    await h.restart()


async def test_switching_the_client_bot_on_loses_no_client_of_the_staff_bot(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness() as h:
        rep = await h.make_employee("rep", name="Ivan")
        client = h.user("Anna")
        await h.say(client, "Здравствуйте, сколько стоит?")
        before = _relayed(h, rep)
        deal = await Deal.get(contact__tg_user_id=client.id)
        # Written before bots were remembered (the migration leaves such rows unknown).
        await Contact.filter(tg_user_id=client.id).update(tg_bot_id=None)

        await _switch_client_bot(h, CLIENT_TOKEN)
        client_bot = h.client_api

        # The reply to his message from before the switch finds the staff bot he wrote to.
        told = await h.deliver(
            h.api.message(rep.user, "1000 ₽", reply_to=before["message_id"])
        )
        assert "Отправлено" in told.to(rep.user.id)[-1]["text"]
        assert h.api.messages_to(client.id)[-1]["text"] == "1000 ₽"
        tried = client_bot.calls("sendMessage", include_failed=True)
        assert [(c.chat_id, c.description) for c in tried] == [
            (client.id, "Bad Request: chat not found")
        ]
        assert (await Contact.get(tg_user_id=client.id)).tg_bot_id == h.api.me["id"]

        # He keeps writing to the staff bot: his message reaches his deal and his rep.
        await h.say(client, "А доставка есть?")
        assert "доставка" in _relayed(h, rep)["text"]
        assert await Deal.all().count() == 1
        assert "Отправлено" in await _reply(h, rep, "Есть, бесплатно")
        assert h.api.messages_to(client.id)[-1]["text"] == "Есть, бесплатно"
        assert client_bot.messages_to(client.id) == []

        # Once he writes to the client bot, replies follow him there.
        await h.say(client, "Нашёл вашего второго бота", via=client_bot)
        assert "Отправлено" in await _reply(h, rep, "Отлично")
        assert client_bot.messages_to(client.id)[-1]["text"] == "Отлично"
        assert h.api.messages_to(client.id)[-1]["text"] == "Есть, бесплатно"
        kinds = await TimelineEvent.filter(deal_id=deal.id).values_list("kind", flat=True)
        assert sorted(map(str, kinds)) == ["created", *["msg_in"] * 3, *["msg_out"] * 3]


async def test_a_reply_that_cannot_go_tells_the_rep_why_and_the_staff_bot_takes_clients_in(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness(client_bot_token=CLIENT_TOKEN) as h:
        rep = await h.make_employee("rep", name="Ivan")
        client_bot: FakeBotAPI = h.client_api

        # A new client writes to the staff bot although a client bot runs: he is taken in.
        boris = h.user("Boris")
        said = await h.say(boris, "Добрый день")
        [greeting] = said.to(boris.id)
        assert "менеджер скоро ответит" in greeting["text"]
        assert "Добрый день" in _relayed(h, rep)["text"]
        assert "Отправлено" in await _reply(h, rep, "Здравствуйте, Борис")
        assert h.api.messages_to(boris.id)[-1]["text"] == "Здравствуйте, Борис"

        # Telegram refuses for a reason of its own: the rep reads it, nothing is recorded.
        h.api.fail_next("sendMessage", error_code=400, description="Bad Request: injected")
        assert "Telegram ответил «Bad Request: injected»" in await _reply(h, rep, "Алло")
        assert await ChatMessage.filter(incoming=False).count() == 1

        # He blocked the staff bot: the rep is told so, then and on every later try.
        h.api.block(boris.id)
        assert "заблокировал" in await _reply(h, rep, "Вы тут?")
        assert "заблокировал" in await _reply(h, rep, "Ответьте, пожалуйста")
        assert not (await Contact.get(tg_user_id=boris.id)).stopped
        # He unblocks it and writes: replies reach him again.
        h.api.unblock(boris.id)
        await h.say(boris, "Я вернулся")
        assert "Отправлено" in await _reply(h, rep, "С возвращением")
        assert h.api.messages_to(boris.id)[-1]["text"] == "С возвращением"

        # A client of the client bot, which is then switched off: the staff bot cannot start a
        # chat with him, and the rep is told that rather than left with nothing.
        vera = h.user("Vera")
        await h.say(vera, "Здравствуйте", via=client_bot)
        await _switch_client_bot(h, "")
        assert "не писал этому боту" in await _reply(h, rep, "Добрый день, Вера")
        assert h.api.messages_to(vera.id) == []


async def test_stop_holds_until_the_client_writes_again_on_his_deal_with_his_rep(
    harness: Harness,
) -> None:
    h = harness
    ivan = await h.make_employee("rep", name="Ivan")
    await h.make_employee("rep", name="Petr")
    client: User = h.user("Vera")
    await h.say(client, "Здравствуйте")
    deal = await Deal.get(contact__tg_user_id=client.id)
    assert deal.owner_id == ivan.employee.id  # type: ignore[attr-defined]

    await h.say(client, "/stop")
    assert "/stop" in await _reply(h, ivan, "Вы тут?")
    assert h.api.messages_to(client.id)[-1]["text"].startswith("Готово")

    # His next message lifts it: he is told, it reaches the same deal and the same rep.
    again = await h.say(client, "Передумала, расскажите подробнее")
    [back_on] = again.to(client.id)
    assert "Ответы снова включены" in back_on["text"]
    assert "Передумала" in _relayed(h, ivan)["text"]
    assert await Deal.all().count() == 1
    assert (await Deal.get(id=deal.id)).owner_id == ivan.employee.id  # type: ignore[attr-defined]
    assert "Отправлено" in await _reply(h, ivan, "Конечно")
    assert h.api.messages_to(client.id)[-1]["text"] == "Конечно"
    kinds = await TimelineEvent.filter(deal_id=deal.id).order_by("id").values_list(
        "kind", flat=True
    )
    assert kinds == [
        EventKind.CREATED, EventKind.MSG_IN, EventKind.STOPPED, EventKind.RESUMED,
        EventKind.MSG_IN, EventKind.MSG_OUT,
    ]
    # The rep sees it on the deal's card.
    found = await h.say(ivan.user, "/find Vera")
    [button] = found.buttons
    card = await h.press(ivan.user, button["callback_data"], found.last)
    assert "Клиент написал снова: ответы снова включены" in card.text
