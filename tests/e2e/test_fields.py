"""Custom fields end to end: set from the card's Fields button (choices as buttons, typed values
re-asked when wrong), shown on the card, found by /find key:value; a press into a stage that
needs a field asks for it first and is finished after."""

from __future__ import annotations

from pathlib import Path

from config.playbook import DEFAULT_PLAYBOOK
from storage.fields import values_of
from storage.models import Deal
from tests.e2e.conftest import HarnessFactory
from tests.e2e.harness import Harness, Json
from tests.e2e.test_workspace import add_client, labels, open_task, the_deal


def _current(h: Harness, card: Json) -> Json:
    found = h.api.find_message(card["chat"]["id"], card["message_id"])
    assert found is not None
    return found


async def test_fields_are_set_from_the_card_and_found(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    await harness.press_text(rep.user, card, "📝 Поля")
    assert labels(_current(harness, card)) == ["Город", "Продукт", "Конец договора", "« Назад"]

    # A choice: its options on the card, one tap, the card again with the value.
    await harness.press_text(rep.user, card, "Продукт")
    assert labels(_current(harness, card)) == [
        "Базовый", "Профи", "Под заказ", "Очистить", "« Назад"
    ]
    await harness.press_text(rep.user, card, "Профи")
    shown = _current(harness, card)
    assert "Продукт: Профи" in shown["text"] and "Перезвонить" in labels(shown)

    # A typed value, normalised; a bad one is re-asked with what is wrong, nothing stored.
    await harness.press_text(rep.user, card, "📝 Поля")
    await harness.press_text(rep.user, card, "Конец договора")
    bad = await harness.say(rep.user, "когда-нибудь")
    assert "«когда-нибудь» — не дата, например 25.12.2026" in bad.text
    saved = await harness.say(rep.user, "25.12.2026")
    assert any("Сохранено: Конец договора: 25.12.2026" in m.get("text", "")
               for m in saved.messages)
    await harness.press_text(rep.user, card, "📝 Поля")
    await harness.press_text(rep.user, card, "Город")
    await harness.say(rep.user, "  Казань ")
    text = _current(harness, card)["text"]
    assert text.index("Город: Казань") < text.index("Продукт: Профи")  # playbook order
    assert "Конец договора: 25.12.2026" in text

    found = await harness.say(rep.user, "/find город:казань")
    assert "Найдено: 1" in found.text
    assert "ничего не найдено" in (await harness.say(rep.user, "/find product:basic")).text


async def test_a_press_into_a_stage_asks_for_its_field_first(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    playbook = tmp_path / "playbook.toml"
    playbook.write_text(
        DEFAULT_PLAYBOOK.read_text(encoding="utf-8").replace(
            '# required_in = ["invoice_sent"]', 'required_in = ["invoice_sent"]'
        ),
        encoding="utf-8",
    )
    async with make_harness(playbook=str(playbook)) as h:
        rep = await h.make_employee("rep", name="Ivan")
        card = await add_client(h, rep)
        deal = await the_deal()
        await h.press_text(rep.user, card, "Счёт выставлен")
        asked = await h.say(rep.user, "завтра 15:00")  # the time first, then the field
        assert "Сначала выберите «Продукт» на карточке" in asked.text
        assert (await Deal.get(id=deal.id)).stage == "new"  # nothing pressed yet
        assert labels(_current(h, card))[:3] == ["Базовый", "Профи", "Под заказ"]
        done = await h.press_text(rep.user, card, "Базовый")
        assert (await Deal.get(id=deal.id)).stage == "invoice_sent"
        task = await open_task(deal.id)
        assert task.planned_by == "invoice_sent" and task.kind == "payment_check"
        assert await values_of("deal", [deal.id]) == {deal.id: {"product": ["basic"]}}
        assert any("Счёт выставлен → дальше" in m.get("text", "") for m in done.to(rep.user.id))


async def test_admin_adds_renames_and_removes_a_field(harness: Harness) -> None:
    admin = await harness.make_employee("admin", name="Olga")
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    overview = (await harness.say(admin.user, "/pipeline")).last
    await harness.press_text(admin.user, overview, "📝 Поля")
    assert labels(_current(harness, overview))[:3] == ["Город", "Продукт", "Конец договора"]
    await harness.press_text(admin.user, overview, "➕ Добавить поле")
    bad = await harness.say(admin.user, "budget cash deal Бюджет")
    assert "Тип должен быть одним из" in bad.text
    added = await harness.say(admin.user, "budget money deal Бюджет")
    assert "Сохранено" in added.text and "budget" in added.text

    # The rep's card offers it at once; a bad amount is re-asked.
    await harness.press_text(rep.user, card, "📝 Поля")
    await harness.press_text(rep.user, card, "Бюджет")
    assert "не сумма" in (await harness.say(rep.user, "много")).text
    await harness.say(rep.user, "1 500 000")
    assert "Бюджет: 1 500 000" in _current(harness, card)["text"]

    # A rename keeps the value; removal says how many deals hold one, and asks.
    listing = added.last
    await harness.press_text(admin.user, listing, "Бюджет")
    await harness.press_text(admin.user, listing, "✏️ Название (RU)")
    await harness.say(admin.user, "Бюджет клиента")
    await harness.press_text(rep.user, card, "📝 Поля")
    assert "Бюджет клиента: 1 500 000" in labels(_current(harness, card))
    assert await values_of("deal", [deal.id]) == {deal.id: {"budget": ["150000000"]}}
    listing = (await harness.say(admin.user, "/pipeline")).last
    await harness.press_text(admin.user, listing, "📝 Поля")
    await harness.press_text(admin.user, listing, "Бюджет клиента")
    asked = await harness.press_text(admin.user, listing, "🗑 Удалить")
    assert "Сделок со значением: 1" in _current(harness, listing)["text"], asked
    await harness.press_text(admin.user, listing, "Да, удалить")
    assert "Поле удалено, удалено значений: 1" in _current(harness, listing)["text"]
    assert await values_of("deal", [deal.id]) == {}
