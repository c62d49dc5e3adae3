"""A button's one answer (answerCallbackQuery) on every path a press takes: in webhook mode it
rides on the webhook's reply when the handler ends in time; in long polling, and whenever it
cannot wait (the 2 s deadline, a handler that failed), it is a request of its own."""

from __future__ import annotations

from tests.e2e.harness import Harness, Json, Staff
from tests.fakes import Call

ANNA = "Анна +7 495 123-45-67"


async def rep_and_card(h: Harness) -> tuple[Staff, Json]:
    """A rep and the card of the client he just added."""
    rep = await h.make_employee("rep", name="Ivan")
    return rep, (await h.say(rep.user, ANNA)).last


def answers(calls: list[Call]) -> list[tuple[bool, object]]:
    """(came in the webhook's reply, its text) of each answer among calls."""
    return [
        (c.via_webhook, c.params.get("text")) for c in calls if c.method == "answerCallbackQuery"
    ]


async def test_webhook_mode_answers_a_button_in_the_webhooks_reply(
    webhook_harness: Harness,
) -> None:
    h = webhook_harness
    rep, card = await rep_and_card(h)
    menu = await h.press_text(rep.user, card, "Не дозвонился")  # opens the sub-menu
    assert [(c.method, c.via_webhook) for c in menu.calls] == [
        ("editMessageReplyMarkup", False), ("answerCallbackQuery", True),
    ]
    done = await h.press_text(rep.user, menu.last, "Занято")
    assert [c.method for c in done.calls if not c.via_webhook] == ["editMessageText", "sendMessage"]
    assert done.answer is not None and done.answer.via_webhook and done.answer.ok


async def test_webhook_mode_answers_a_slow_press_at_the_deadline_over_http(
    webhook_harness: Harness,
) -> None:
    h = webhook_harness
    rep, card = await rep_and_card(h)
    h.api.fail_next("editMessageReplyMarkup", 1, retry_after=3)  # the sub-menu takes 3 s
    menu = await h.press_text(rep.user, card, "Не дозвонился")
    assert answers(menu.calls) == [(False, None)]
    assert not h.api.unanswered_callbacks


async def test_webhook_mode_sends_a_refusal_in_the_reply(webhook_harness: Harness) -> None:
    h = webhook_harness
    owner = await h.make_employee("rep", name="A")
    stranger = await h.make_employee("rep", name="B", team="other")
    card = (await h.say(owner.user, ANNA)).last
    data = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    refused = await h.deliver(h.api.callback(stranger.user, data, card))
    assert answers(refused.calls) == [(True, "Это не ваша сделка")]


async def test_webhook_mode_answers_a_failed_handler_once_and_asks_for_the_update_again(
    webhook_harness: Harness,
) -> None:
    h = webhook_harness
    rep, card = await rep_and_card(h)
    h.api.fail_next("editMessageReplyMarkup", 5, error_code=400,
                    description="Bad Request: chat not found")
    since = len(h.api.sent)
    delivery = await h.api.post_update(
        h.settings.webhook_url, h.api.press(rep.user, card, "Не дозвонился")
    )
    assert delivery.status == 500  # Telegram delivers it again
    assert answers(h.api.sent[since:]) == [(False, None)]


async def test_polling_answers_an_outcome_press_before_its_cards(harness: Harness) -> None:
    h = harness
    rep, card = await rep_and_card(h)
    menu = await h.press_text(rep.user, card, "Не дозвонился")
    done = await h.press_text(rep.user, menu.last, "Занято")
    by_method = {c.method: c for c in done.calls}
    assert by_method["answerCallbackQuery"].time < by_method["sendMessage"].time
    assert [c.method for c in done.calls].count("answerCallbackQuery") == 1
