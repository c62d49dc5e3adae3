"""Asking the time end to end: a time that would move is shown moved, with why, and one tap."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.models import Task, TaskStatus
from tests.e2e.harness import Harness
from tests.e2e.test_workspace import add_client, datas, labels, open_task, the_deal

# Friday 27 Nov 2026, 18:30 in Moscow: working hours (09:00-19:00, Mon-Fri) end in half an hour.
FRIDAY_EVENING = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)


async def test_friday_evening_tomorrow_15_is_offered_as_monday_15(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    before = await open_task(deal.id)
    harness.clock.set(FRIDAY_EVENING)
    await harness.press_text(rep.user, card, "Перезвонить")
    offer = await harness.say(rep.user, "завтра 15:00")
    # One line with the move and the reason, the hour kept (not Monday 09:00), nothing pressed.
    assert "завтра 15:00 — нерабочее время → пн 15:00" in offer.text
    assert labels(offer.last) == ["✅ пн 15:00"]
    assert (await open_task(deal.id)).id == before.id
    accepted = await harness.press(rep.user, datas(offer.last)[0], offer.last)
    task = await open_task(deal.id)
    assert task.id != before.id and task.planned_by == "call_back"
    assert task.due_at == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday 15:00 Moscow
    closed = accepted.to(rep.user.id)
    assert any("Перезвонить → дальше" in m.get("text", "") and "пн 15:00" in m.get("text", "")
               for m in closed), closed
    # The offer loses its button; a late second tap (sent before that) changes nothing.
    assert not labels(harness.api.find_message(rep.user.id, offer.last["message_id"]) or {})
    late = harness.api.callback(rep.user, datas(offer.last)[0], offer.last, strict=False)
    again = await harness.deliver(late)
    assert again.answer is not None
    assert await Task.filter(deal_id=deal.id, status=TaskStatus.OPEN).count() == 1


async def test_another_time_may_be_typed_instead_of_accepting(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan", lang="en")
    card = await add_client(harness, rep)
    deal = await the_deal()
    harness.clock.set(FRIDAY_EVENING)
    await harness.press_text(rep.user, card, "Call back")
    offer = await harness.say(rep.user, "tomorrow 3pm")
    assert "tomorrow 15:00 is outside working hours → Mon 15:00" in offer.text
    await harness.say(rep.user, "mon 11am")
    task = await open_task(deal.id)
    assert task.due_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 11:00 Moscow


async def test_a_date_gone_this_year_is_confirmed_with_its_year(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    await harness.press_text(rep.user, card, "Перезвонить")
    # 20.11.2027 is a Saturday: the guessed year and the move, each said, then one tap.
    offer = await harness.say(rep.user, "20.11")
    assert "В этом году эта дата уже прошла → 20.11.2027 10:00" in offer.text
    assert "20.11.2027 10:00 — нерабочее время → 22.11.2027 10:00" in offer.text
    await harness.press(rep.user, datas(offer.last)[0], offer.last)
    task = await open_task(deal.id)
    assert task.due_at == datetime(2027, 11, 22, 7, 0, tzinfo=UTC)


async def test_a_time_gone_today_offers_the_nearest_sensible_one(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    await harness.press_text(rep.user, card, "Перезвонить")
    offer = await harness.say(rep.user, "сегодня в 5")  # 10:00 now: 05:00 has gone, 17:00 not
    assert "Это время уже прошло → 17:00" in offer.text
    assert labels(offer.last) == ["✅ 17:00"]
    gone = await harness.say(rep.user, "20.11.2026")
    assert "Эта дата уже прошла" in gone.text and "Не понял" not in gone.text


async def test_night_for_the_client_names_his_offset(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep, "Борис +7 4232 12-34-56")  # Vladivostok, UTC+10
    await harness.press_text(rep.user, card, "Перезвонить")
    # Thursday 18:00 Moscow is 01:00 in Vladivostok, every day: the next hour in both his
    # window and working hours, Friday 09:00 Moscow (16:00 his). Never earlier than asked.
    offer = await harness.say(rep.user, "завтра 18:00")
    assert "завтра 18:00 — у клиента ночь (UTC+10) → пт 09:00" in offer.text


async def test_a_slot_that_would_move_is_offered_too(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    asked = await harness.press_text(rep.user, card, "Перезвонить")
    # A keyboard sent before the client's zone or the hours changed: Saturday 15:00 Moscow.
    saturday = int(datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()) // 60
    task = await open_task(deal.id)
    stale = harness.api.callback(
        rep.user, f"s:{task.id}:call_back:{saturday}", asked.messages[0], strict=False
    )
    offer = await harness.deliver(stale)
    assert "сб 15:00 — нерабочее время → пн 15:00" in offer.text
    assert (await open_task(deal.id)).id == task.id  # nothing pressed yet
