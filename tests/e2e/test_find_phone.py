"""/find by a part of a client's number, end to end through the fake Bot API."""

from __future__ import annotations

from tests.e2e.harness import Harness
from tests.e2e.test_workspace import RU_LABELS, add_client, labels


async def test_find_by_a_part_of_the_number_shows_the_reps_deal(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    other = await harness.make_employee("rep", name="Petr")
    await add_client(harness, rep, "Анна +7 495 123-45-67")
    await add_client(harness, other, "Борис +7 495 765-45-67")  # Petr's, also ends in 45-67
    found = await harness.say(rep.user, "/find 45-67")
    assert found.text == "Найдено: 1"
    opened = await harness.press_text(rep.user, found.last, "Анна · Новый лид")
    assert labels(opened.last) == RU_LABELS and "Анна" in opened.last["text"]
    middle = await harness.say(rep.user, "/find 123-4")
    assert middle.text == "Найдено: 1"
