"""The rep's workspace end to end: the App over HTTP against the fake Bot API, on a FakeClock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from crm.deals import ContactDraft, find_or_create_contact, open_deal
from storage.models import Deal, DealStatus, Task, TaskStatus
from tests.conftest import T0
from tests.e2e.harness import Exchange, Harness, Json, Staff

MOSCOW_LANDLINE = "+7 495 123-45-67"  # the zone is known from the number: Europe/Moscow
# The default playbook has custom fields: every card ends with their button.
EN_LABELS = ["No answer", "Call back", "Invoice sent", "Paid", "Refused", "Note", "📝 Fields"]
RU_LABELS = [
    "Не дозвонился", "Перезвонить", "Счёт выставлен", "Оплачено", "Отказ", "Заметка", "📝 Поля"
]


def labels(message: Json) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def datas(message: Json) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b.get("callback_data", "") for row in rows for b in row]


async def open_task(deal_id: int) -> Task:
    return await Task.get(deal_id=deal_id, status=TaskStatus.OPEN)


async def add_client(h: Harness, rep: Staff, text: str = f"Анна {MOSCOW_LANDLINE}") -> Json:
    reply = await h.say(rep.user, text)
    return reply.last


async def the_deal() -> Deal:
    return await Deal.all().order_by("-id").first()  # type: ignore[return-value]


async def test_quick_add_shows_the_card_and_a_duplicate_says_so(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    assert "Анна" in card["text"] and "+7 495 123-45-67" in card["text"]
    assert "у клиента 10:00, UTC+3" in card["text"]
    assert labels(card) == RU_LABELS
    again = await harness.say(rep.user, "+74951234567")
    assert again.text.startswith("ℹ️ Уже есть в CRM") and "Анна" in again.text
    assert await Deal.all().count() == 1
    shared = await harness.say(rep.user, "", contact="+7 913 555-44-33")
    assert "часовой пояс клиента неизвестен" in shared.text
    assert labels(shared.last)[-2:] == ["🌍 Регион", "📝 Поля"]  # one button, not eleven
    listed = await harness.press_text(rep.user, shared.last, "🌍 Регион")
    assert labels(listed.last)[:3] == ["Калининград", "Москва", "Самара"]
    picked = await harness.press_text(rep.user, listed.last, "Новосибирск")
    assert "UTC+7" in picked.text and "🌍 Регион" not in labels(picked.last)
    # The next client of unknown zone lists the rep's last pick first.
    other = await harness.say(rep.user, "", contact="+7 913 555-44-34")
    listed = await harness.press_text(rep.user, other.last, "🌍 Регион")
    assert labels(listed.last)[:2] == ["Новосибирск", "Калининград"]


async def test_no_answer_ladder_ends_in_archive(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan", lang="en")
    card = await add_client(harness, rep)
    deal = await the_deal()
    steps = [timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=3), timedelta(days=1)]
    for attempt, step in enumerate(steps, start=2):
        submenu = await harness.press_text(rep.user, card, "No answer")
        assert labels(submenu.last) == ["Busy", "Unavailable", "No pickup", "« Back"]
        done = await harness.press_text(rep.user, card, "No pickup")
        assert f"attempt {attempt}/5" in done.to(rep.user.id)[0]["text"]
        task = await open_task(deal.id)
        assert task.due_at == harness.clock.now() + step
        harness.clock.set(task.due_at)
        pushed = await harness.tick()
        card = pushed.last
        assert f"attempt {attempt}/5" in card["text"] and "No pickup" in card["text"]
    await harness.press_text(rep.user, card, "No answer")
    await harness.press_text(rep.user, card, "Busy")
    deal = await Deal.get(id=deal.id)
    assert deal.status == DealStatus.ARCHIVED and deal.stage == "archive"
    assert not await Task.exists(deal_id=deal.id, status=TaskStatus.OPEN)


async def test_invoice_sent_with_a_typed_time_and_a_retry(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    asked = await harness.press_text(rep.user, card, "Счёт выставлен")
    assert "Когда проверить оплату?" in asked.text  # the button's hint
    assert any(" · 0" in label for label in labels(asked.messages[0]))  # slots with the load
    wrong = await harness.say(rep.user, "когда-нибудь потом")
    assert "Не понял время" in wrong.text and "завтра 15:00" in wrong.text
    assert (await open_task(deal.id)).planned_by is None  # unchanged, still asking
    done = await harness.say(rep.user, "завтра 15:00")
    closed = done.to(rep.user.id)[0]
    assert "Счёт выставлен → дальше: Проверить оплату, завтра 15:00" in closed["text"]
    task = await open_task(deal.id)
    assert task.due_at == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 15:00 Moscow
    assert (await Deal.get(id=deal.id)).stage == "invoice_sent"


async def test_call_back_with_a_slot_button(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    asked = await harness.press_text(rep.user, card, "Перезвонить")
    slot = next(d for d in datas(asked.messages[0]) if d.startswith("s:"))
    await harness.press(rep.user, slot, card)
    task = await open_task(deal.id)
    assert task.due_at == T0 + timedelta(hours=1)  # the first slot: 11:00 Moscow
    assert task.planned_by == "call_back"


async def test_cancel_leaves_the_task_as_it_was(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    before = await open_task(deal.id)
    await harness.press_text(rep.user, card, "Перезвонить")
    cancelled = await harness.say(rep.user, "/cancel")
    assert cancelled.text == "Отменено, ничего не изменилось."
    after_typing = await harness.say(rep.user, "завтра 15:00")
    assert "Чтобы добавить клиента" in after_typing.text
    after = await open_task(deal.id)
    assert (after.id, after.due_at, after.status) == (before.id, before.due_at, TaskStatus.OPEN)


async def test_paid_refused_with_reasons_and_double_taps(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    rep.employee.conveyor = False
    await rep.employee.save(update_fields=["conveyor"])
    card = await add_client(harness, rep)
    paid_deal = await the_deal()
    paid_data = next(d for d in datas(card) if d.endswith(":paid"))
    done = await harness.press(rep.user, paid_data, card)
    assert done.text.endswith("✅ Оплачено")  # one outcome, not "Оплачено → Оплачено"
    assert (await Deal.get(id=paid_deal.id)).status == DealStatus.WON
    # The same press again (a double tap, a stale card): nothing changes, and it says so.
    stale = await harness.deliver(harness.api.callback(rep.user, paid_data, card, strict=False))
    assert stale.answer is not None and stale.answer.params.get("text") == "Уже обработано"
    assert await Deal.filter(status=DealStatus.WON).count() == 1

    card = await add_client(harness, rep, "Борис +7 495 765-43-21")
    lost = await the_deal()
    reasons = await harness.press_text(rep.user, card, "Отказ")
    assert labels(reasons.last) == ["Дорого", "Ушёл к конкуренту", "Нет потребности", "Другое",
                                    "« Назад"]
    back = await harness.press_text(rep.user, card, "« Назад")
    assert labels(back.last) == RU_LABELS
    await harness.press_text(rep.user, card, "Отказ")
    await harness.press_text(rep.user, card, "Другое")
    why = "дорого и долго. " * 150  # 2,400 characters: what a rep types is kept whole
    await harness.say(rep.user, why)
    lost = await Deal.get(id=lost.id)
    assert (lost.status, lost.lost_reason, lost.lost_note) == (DealStatus.LOST, "other", why)

    card = await add_client(harness, rep, "Вера +7 495 111-22-33")
    await harness.press_text(rep.user, card, "Отказ")
    priced = await harness.press_text(rep.user, card, "Дорого")
    assert priced.text.endswith("✅ Отказ (Дорого)")
    assert (await the_deal()).lost_reason == "price"


async def test_note_keeps_the_task_open(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    task = await open_task(deal.id)
    await harness.press_text(rep.user, card, "Заметка")
    noted = await harness.say(rep.user, "просит скидку <10%>")
    assert any("просит скидку <10%>" in m.get("text", "") for m in noted.messages)
    assert (await open_task(deal.id)).id == task.id


async def test_hashtags_in_a_note_tag_the_deal(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    card = await add_client(harness, rep)
    deal = await the_deal()
    await harness.press_text(rep.user, card, "Заметка")
    noted = await harness.say(rep.user, "#VIP перезвонить после обеда, #опт #vip")
    assert "Заметка добавлена, теги: #VIP #опт" in [m.get("text") for m in noted.messages]
    [shown] = [m for m in noted.messages if "перезвонить после обеда" in m.get("text", "")]
    assert "#VIP #опт" in shown["text"]  # the card, with the note as typed and the tags
    assert (await Deal.get(id=deal.id)).tags == ["VIP", "опт"]
    found = await harness.say(rep.user, "/find #vip")
    assert found.text == "Найдено: 1"
    opened = await harness.press_text(rep.user, found.last, "Анна · Новый лид")
    assert "#VIP #опт" in opened.text


async def test_forged_callbacks_are_refused(harness: Harness) -> None:
    owner = await harness.make_employee("rep", name="Ivan")
    other = await harness.make_employee("rep", name="Petr")
    await add_client(harness, owner)
    deal = await the_deal()
    task = await open_task(deal.id)
    mine = await harness.say(other.user, "/next")  # he gets a message to press on
    forged = await harness.deliver(
        harness.api.callback(other.user, f"a:{task.id}:paid", mine.last, strict=False)
    )
    assert forged.answer is not None and forged.answer.params.get("text") == "Это не ваша сделка"
    # Unreadable data is unknown; readable data naming someone else's task is not his, whatever
    # else in it is wrong (the scope is checked first, so nothing is told about the deal).
    for garbage, told in (
        ("a:zzz:paid", "Неизвестная кнопка"), ("s:1:call_back:soon", "Неизвестная кнопка"),
        (f"r:{task.id}:refused:99", "Это не ваша сделка"),
    ):
        refused = await harness.deliver(
            harness.api.callback(other.user, garbage, mine.last, strict=False)
        )
        assert refused.answer is not None
        assert refused.answer.params.get("text") == told
    assert (await open_task(deal.id)).id == task.id
    assert (await Deal.get(id=deal.id)).status == DealStatus.OPEN


async def test_conveyor_sends_the_next_card(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    first = await add_client(harness, rep)
    crm = harness.running.crm  # a deal of his that he has not been sent yet
    contact, _ = await find_or_create_contact(
        crm, ContactDraft(name="Борис", phones=("+74957654321",))
    )
    await open_deal(crm, contact, owner_id=rep.employee.id, team="main")
    done = await harness.press_text(rep.user, first, "Оплачено")
    closed, following = done.to(rep.user.id)[:2]
    assert closed["message_id"] == first["message_id"] and "✅ Оплачено" in closed["text"]
    assert "Борис" in following["text"] and labels(following) == RU_LABELS
    # Its due push does not bring the same card again.
    assert (await harness.tick()).to(rep.user.id) == []


async def test_conveyor_does_not_send_again_a_card_the_rep_has(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    first = await add_client(harness, rep)
    await add_client(harness, rep, "Борис +7 495 765-43-21")  # its card is in his chat
    done = await harness.press_text(rep.user, first, "Оплачено")
    closed, following = done.to(rep.user.id)[:2]
    assert "✅ Оплачено" in closed["text"] and "Борис" not in following["text"]
    assert following["text"].startswith("Новых нет. Срочных карточек у вас в чате: 1")
    # /next, asked for, shows the most urgent even so.
    assert "Борис" in (await harness.say(rep.user, "/next")).text


async def test_next_hands_the_oldest_lead_to_exactly_one_of_two_reps(harness: Harness) -> None:
    one = await harness.make_employee("rep", name="Ivan")
    two = await harness.make_employee("rep", name="Petr")
    crm = harness.running.crm
    contact, _ = await find_or_create_contact(
        crm, ContactDraft(name="Лид", phones=("+74957776655",))
    )
    lead = await open_deal(crm, contact, owner_id=None, team="main", source="chat")
    replies: list[Exchange] = list(
        await asyncio.gather(harness.say(one.user, "/next"), harness.say(two.user, "/next"))
    )
    reps = (one, two)
    got = [
        rep for rep, r in zip(reps, replies, strict=True)
        if any("Лид" in m.get("text", "") for m in r.to(rep.user.id))
    ]
    assert len(got) == 1
    owner_id = (await Deal.get(id=lead.id)).owner_id  # type: ignore[attr-defined]
    assert owner_id == got[0].employee.id


async def test_english_and_russian_labels(harness: Harness) -> None:
    english = await harness.make_employee("rep", name="John", lang="en")
    russian = await harness.make_employee("rep", name="Ivan", lang="ru")
    en_card = await add_client(harness, english, f"Ann {MOSCOW_LANDLINE}")
    ru_card = await add_client(harness, russian, "Анна +7 495 765-43-21")
    assert labels(en_card) == EN_LABELS and "client's time 10:00, UTC+3" in en_card["text"]
    assert labels(ru_card) == RU_LABELS and "Этап: Новый лид" in ru_card["text"]


async def test_find_and_today(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    other = await harness.make_employee("rep", name="Petr")
    await add_client(harness, rep)
    await add_client(harness, other, "Анна Другая +7 495 765-43-21")
    found = await harness.say(rep.user, "/find анна")
    assert found.text == "Найдено: 1"  # only his own deal
    opened = await harness.press_text(rep.user, found.last, "Анна · Новый лид")
    assert labels(opened.last) == RU_LABELS
    by_phone = await harness.say(rep.user, "/find 8 495 123 45 67")
    assert by_phone.text == "Найдено: 1"
    agenda = await harness.say(rep.user, "/today")
    assert "10:00 · 1" in agenda.text and "Анна" in agenda.text


async def test_add_asks_name_phone_amount(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Ivan")
    await harness.say(rep.user, "/add")
    await harness.say(rep.user, "Григорий")
    wrong = await harness.say(rep.user, "не телефон")
    assert "Это не номер телефона" in wrong.text
    await harness.say(rep.user, MOSCOW_LANDLINE)
    card = await harness.say(rep.user, "15 000")
    assert "Григорий" in card.text and "Сумма: 15 000" in card.text
    assert (await the_deal()).amount == 1_500_000
