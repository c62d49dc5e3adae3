"""One message per event: a new deal brings its rep one card, and its due push does not follow
it a second later with the same card."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.harness import Harness, Json


def _datas(message: Json) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b.get("callback_data", "") for row in rows for b in row]


async def test_a_clients_lead_is_one_card_with_his_words_the_alert_and_reply(
    harness: Harness,
) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    client = harness.user("Anna")
    said = await harness.say(client, "Срочно! Сколько стоит доставка?")
    [card] = said.to(rep.user.id)  # before: the card, the copy, the alert, then "Task due"
    assert card["text"].startswith("🆕 Новый лид")
    assert "Сколько стоит доставка?" in card["text"] and "🚨" in card["text"]
    assert any(d.startswith("a:") for d in _datas(card))  # the outcome buttons
    assert any(d.startswith("rp:") for d in _datas(card))  # and Reply
    harness.clock.advance(timedelta(seconds=5))
    assert (await harness.tick()).to(rep.user.id) == []
    # A Telegram reply to the card reaches the client, as one to a copy did.
    answer = await harness.deliver(
        harness.api.message(rep.user, "Добрый день!", reply_to=card["message_id"])
    )
    assert [m["text"] for m in answer.to(client.id)] == ["Добрый день!"]


async def test_a_deal_added_by_the_rep_is_not_pushed_again(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    added = await harness.say(rep.user, "Анна +7 495 123-45-67")
    assert len(added.to(rep.user.id)) == 1
    harness.clock.advance(timedelta(seconds=5))
    assert (await harness.tick()).to(rep.user.id) == []
    # A task that falls due later is pushed as before.
    harness.clock.advance(timedelta(days=1))
    card = added.last
    done = await harness.press_text(rep.user, card, "Не дозвонился")
    busy = await harness.press_text(rep.user, done.last, "Занято")
    assert busy.answer is not None
    harness.clock.advance(timedelta(minutes=6))
    pushed = (await harness.tick()).to(rep.user.id)
    assert len(pushed) == 1 and pushed[0]["text"].startswith("⏰")
