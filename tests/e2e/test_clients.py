"""Clients in chat, end to end over the fake Bot API: leads, relays, replies, /stop, alerts."""

from __future__ import annotations

from typing import Any

from crm.leads import set_shift
from storage.models import ChatMessage, Contact, Deal, EventKind, TimelineEvent
from tests.e2e.harness import Harness


def _reply_button(message: dict[str, Any]) -> str:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return next(
        b["callback_data"] for row in rows for b in row if b["callback_data"].startswith("rp:")
    )


async def test_first_message_makes_a_lead_and_a_telegram_reply_reaches_the_client(
    harness: Harness,
) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    client = harness.user("Anna")
    said = await harness.say(client, "Здравствуйте, сколько стоит?")
    greeting = said.to(client.id)
    assert len(greeting) == 1 and "менеджер скоро ответит" in greeting[0]["text"]
    [greeted] = [c for c in said.calls if c.chat_id == client.id]
    assert greeted.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    to_rep = said.to(rep.user.id)
    assert any("сколько стоит" in (m.get("text") or "") for m in to_rep)
    relayed = next(m for m in to_rep if m["text"].startswith(("💬", "🆕")))
    deal = await Deal.get(contact__tg_user_id=client.id)
    assert deal.owner_id == rep.employee.id and deal.source == "telegram"  # type: ignore[attr-defined]

    answer = await harness.deliver(
        harness.api.message(rep.user, "Добрый день! 1000 ₽", reply_to=relayed["message_id"])
    )
    [delivered] = answer.to(client.id)
    assert delivered["text"] == "Добрый день! 1000 ₽"
    assert "Отправлено" in answer.to(rep.user.id)[-1]["text"]
    kinds = await TimelineEvent.filter(deal_id=deal.id).order_by("id").values_list(
        "kind", flat=True
    )
    assert kinds == [EventKind.CREATED, EventKind.MSG_IN, EventKind.MSG_OUT]


async def test_reply_button_then_text_and_a_returning_client_stays_on_his_deal(
    harness: Harness,
) -> None:
    rep = await harness.make_employee("rep")
    client = harness.user("Boris")
    first = await harness.say(client, "hello")
    relayed = next(m for m in first.to(rep.user.id) if m["text"].startswith(("💬", "🆕")))
    pressed = await harness.press(rep.user, _reply_button(relayed), relayed)
    assert "Пришлите ответ" in pressed.to(rep.user.id)[-1]["text"]
    assert [c.ok for c in pressed.calls if c.method == "answerCallbackQuery"] == [True]
    sent = await harness.say(rep.user, "Hi Boris")
    assert [m["text"] for m in sent.to(client.id)] == ["Hi Boris"]

    again = await harness.say(client, "one more question")
    assert again.to(client.id) == []  # no second greeting
    assert any("one more question" in m["text"] for m in again.to(rep.user.id))
    assert await Deal.all().count() == 1
    assert await ChatMessage.filter(incoming=True).count() == 2


async def test_stop_is_confirmed_once_and_nothing_more_is_sent(harness: Harness) -> None:
    rep = await harness.make_employee("rep")
    client = harness.user("Vera")
    first = await harness.say(client, "hi")
    relayed = next(m for m in first.to(rep.user.id) if m["text"].startswith(("💬", "🆕")))
    stopped = await harness.say(client, "/stop")
    assert len(stopped.to(client.id)) == 1
    assert (await Contact.get(tg_user_id=client.id)).stopped
    again = await harness.say(client, "/stop")
    assert again.to(client.id) == []
    refused = await harness.deliver(
        harness.api.message(rep.user, "are you there?", reply_to=relayed["message_id"])
    )
    assert refused.to(client.id) == []
    assert "/stop" in refused.to(rep.user.id)[-1]["text"]
    pressed = await harness.press(rep.user, _reply_button(relayed), relayed)
    [answer] = [c for c in pressed.calls if c.method == "answerCallbackQuery"]
    assert answer.ok and answer.params["show_alert"] and "/stop" in answer.params["text"]


async def test_keyword_alert_reaches_owner_and_supervisor(harness: Harness) -> None:
    rep = await harness.make_employee("rep")
    boss = await harness.make_employee("supervisor", name="Boss")
    client = harness.user("Gleb")
    said = await harness.say(client, "Срочно пришлите договор")
    assert any("🚨" in m.get("text", "") for m in said.to(rep.user.id))
    assert any("🚨" in m.get("text", "") for m in said.to(boss.user.id))


async def test_round_robin_across_three_reps_on_shift(harness: Harness) -> None:
    reps = [await harness.make_employee("rep", name=f"Rep {n}") for n in range(3)]
    off = await harness.make_employee("rep", name="Off")
    await set_shift(off.employee, False)
    owners = []
    for n in range(6):
        await harness.say(harness.user(f"Client {n}"), "hi")
    for deal in await Deal.all().order_by("id"):
        owners.append(deal.owner_id)  # type: ignore[attr-defined]
    ids = [r.employee.id for r in reps]
    assert owners == ids + ids


async def test_long_texts_and_captions_are_relayed_whole_or_cut_within_telegram_limits(
    harness: Harness,
) -> None:
    rep = await harness.make_employee("rep")
    client = harness.user("Dana")
    text = "Q&A " * 1024  # Telegram's longest message, every & escaped as &amp;
    said = await harness.say(client, text)
    # Too long for the lead's card to quote whole: the card and the whole copy.
    card, relayed = said.to(rep.user.id)
    assert card["text"].startswith("🆕") and relayed["text"].startswith("💬")
    assert len(relayed["text"]) == 4096 and relayed["text"].endswith("…")
    assert relayed["text"].count("Q&A ") > 1000

    caption = "a<b " * 341  # 1023 characters, each < escaped as &lt;
    said = await harness.deliver(harness.api.message(client, caption, photo=True))
    copy = next(m for m in said.to(rep.user.id) if "photo" in m)
    assert len(copy["caption"]) <= 1024 and copy["caption"].count("a<b ") > 250
    assert not harness.api.violations

    rep_reply = "&" * 1024
    answer = await harness.deliver(
        harness.api.message(rep.user, rep_reply, reply_to=copy["message_id"], photo=True)
    )
    [delivered] = answer.to(client.id)
    assert delivered["caption"] == rep_reply


async def test_a_clients_help_is_answered_and_makes_no_lead(harness: Harness) -> None:
    await harness.make_employee("rep", name="Rita")
    client = harness.user("Vera")
    reply = await harness.say(client, "/help")
    assert reply.text.startswith("Напишите вопрос здесь, менеджер ответит в этом чате.")
    assert await Deal.all().count() == 0 and await ChatMessage.all().count() == 0


async def test_a_long_reply_goes_out_in_parts_in_order_and_the_timeline_keeps_it_once(
    harness: Harness,
) -> None:
    rep = await harness.make_employee("rep")
    client = harness.user("Olga")
    first = await harness.say(client, "hi")
    relayed = next(m for m in first.to(rep.user.id) if m["text"].startswith(("💬", "🆕")))
    paragraphs = [f"{n} <&> " + "слово " * 498 + "конец." for n in range(3)]  # 3,000 each
    reply = "\n\n".join(paragraphs)
    assert len(reply) > 9000
    answer = await harness.deliver(
        harness.api.message(rep.user, reply, reply_to=relayed["message_id"])
    )
    parts = [m["text"] for m in answer.to(client.id)]
    assert parts == paragraphs and "\n\n".join(parts) == reply
    assert "Отправлено" in answer.to(rep.user.id)[-1]["text"]
    assert not harness.api.violations
    deal = await Deal.get(contact__tg_user_id=client.id)
    sent = await TimelineEvent.filter(deal_id=deal.id, kind=EventKind.MSG_OUT).values_list(
        "text", flat=True
    )
    assert sent == [reply]


async def test_a_long_caption_continues_as_text_and_a_failed_part_is_reported(
    harness: Harness,
) -> None:
    rep = await harness.make_employee("rep")
    client = harness.user("Pavel")
    first = await harness.say(client, "hi")
    relayed = next(m for m in first.to(rep.user.id) if m["text"].startswith(("💬", "🆕")))
    lines = [f"line {n:04d} " + "x" * 90 for n in range(60)]  # 100 characters each
    caption = "\n".join(lines)  # a Premium caption of 6,059 characters
    harness.api.fail_next("sendMessage", error_code=400)  # the second part, after the photo
    answer = await harness.deliver(
        harness.api.message(rep.user, caption, reply_to=relayed["message_id"], photo=True)
    )
    [photo] = answer.to(client.id)
    assert photo["caption"] == "\n".join(lines[:10])  # 1,009 characters, cut at a line
    told = answer.to(rep.user.id)[-1]["text"]
    assert "1 из 3" in told and "injected failure" in told and "Отправлено клиенту" not in told
    deal = await Deal.get(contact__tg_user_id=client.id)
    sent = await TimelineEvent.filter(deal_id=deal.id, kind=EventKind.MSG_OUT).values_list(
        "text", flat=True
    )
    assert sent == [photo["caption"]]  # what the client got

    again = await harness.deliver(
        harness.api.message(rep.user, caption, reply_to=relayed["message_id"], photo=True)
    )
    texts = [m.get("caption") or m["text"] for m in again.to(client.id)]
    assert [len(t) for t in texts] == [1009, 4039, 1009] and "\n".join(texts) == caption
