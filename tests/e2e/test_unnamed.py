"""A client saved with a number only is shown by that number, not as 'No name'."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.harness import Harness


async def test_today_and_overdue_show_the_number_of_a_contact_without_a_name(
    harness: Harness,
) -> None:
    rep = await harness.make_employee("rep", name="Rita")
    boss = await harness.make_employee("supervisor", name="Boss")
    await harness.say(rep.user, "+7 495 765-43-21")  # quick add: a number, no name
    today = await harness.say(rep.user, "/today")
    assert "+7 495 765-43-21" in today.text and "Без имени" not in today.text
    harness.clock.advance(timedelta(hours=1))
    overdue = await harness.say(boss.user, "/overdue")
    assert "1. Rita · +7 495 765-43-21 ·" in overdue.text
