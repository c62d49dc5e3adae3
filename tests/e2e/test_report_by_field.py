"""/report grouped by a choice field end to end: the real App over the fake Bot API."""

from __future__ import annotations

import struct
from datetime import timedelta

from bot.callbacks import Kind, ReportBy
from bot.charts import CHART_SIZE
from crm.fields import set_options
from storage.models import Deal
from tests.e2e.harness import Harness, Staff
from tests.e2e.test_supervisor import _deal, _press, _upload


async def _product(h: Harness, deal: Deal, option: str) -> None:
    spec = h.running.crm.playbook.field("product")
    assert spec is not None
    await set_options(spec, deal.id, [option])


async def _deals(h: Harness, rep: Staff, phone: str, options: list[str]) -> list[Deal]:
    deals = []
    for n, option in enumerate(options):
        deal = await _deal(h, rep, f"{phone}{n}")
        await _product(h, deal, option)
        deals.append(deal)
    return deals


async def test_the_funnel_by_product_counts_each_option_of_the_team(harness: Harness) -> None:
    h = harness
    boss = await h.make_employee("supervisor", name="Boss")
    rep = await h.make_employee("rep", name="Rita")
    north = await h.make_employee("rep", name="Nikita", team="north")
    *_basic, pro = await _deals(h, rep, "+7495111000", ["basic", "basic", "pro"])
    await _press(h, pro, "paid", rep)  # its repeat sale has no product: in no group
    await _deal(h, rep, "+74951110009")  # no product at all
    # Another team's deals never reach this supervisor, whatever their product.
    await _deals(h, north, "+7495222000", ["basic", "pro", "custom"])
    h.clock.advance(timedelta(hours=1))

    menu = await h.say(boss.user, "/report")
    periods = await h.press_text(boss.user, menu.last, "Воронка")
    assert [b["text"] for b in periods.buttons][-1] == "По полю «Продукт»"
    by = await h.press_text(boss.user, periods.last, "По полю «Продукт»")
    assert by.text == "Воронка по полю «Продукт»: за какой период?"
    sent = await h.press_text(boss.user, by.last, "30 дней")
    png = _upload(sent.calls, "sendphoto", "photo").data
    assert struct.unpack(">II", png[16:24]) == CHART_SIZE
    lines = sent.text.splitlines()
    assert lines[0] == "Воронка по полю «Продукт» · 26.10.2026–25.11.2026 · main"
    basic, pro_at, custom = lines.index("Базовый"), lines.index("Профи"), lines.index("Под заказ")
    assert basic < pro_at < custom
    assert "Новый лид: 2 · 0 ₽" in lines[basic:pro_at]
    assert "Новый лид: 1 · 0 ₽" in lines[pro_at:custom]
    assert any(line.startswith("Оплачено: 1 · 0 ₽") for line in lines[pro_at:custom])
    assert any(line.startswith("Оплачено: 0 · 0 ₽") for line in lines[basic:pro_at])
    assert lines[custom + 1:] == ["Нет данных за период"]  # north's custom deal is not his

    csv = await h.press_text(boss.user, sent.last, "CSV")
    document = _upload(csv.calls, "senddocument", "document")
    assert document.filename == "funnel_by_product_20261026-20261125.csv"
    rows = document.data.decode().splitlines()
    assert rows[0] == "\ufeffПродукт;Этап;Вошло;Сумма, ₽;Конверсия"
    assert "Базовый;Новый лид;2;0,00;" in rows and "Профи;Новый лид;1;0,00;" in rows
    assert "Под заказ;Новый лид;0;0,00;" in rows


async def test_sources_by_product_and_a_field_that_is_not_a_choice(harness: Harness) -> None:
    h = harness
    boss = await h.make_employee("supervisor", name="Boss", lang="en")
    rep = await h.make_employee("rep", name="Rita")
    await _deals(h, rep, "+7495333000", ["pro", "pro"])
    h.clock.advance(timedelta(hours=1))
    menu = await h.say(boss.user, "/report")
    periods = await h.press_text(boss.user, menu.last, "Sources")
    by = await h.press_text(boss.user, periods.last, "By Product")
    sent = await h.press_text(boss.user, by.last, "7 days")
    lines = sent.text.splitlines()
    assert lines[0].startswith("Sources by Product · ")
    pro = lines.index("Pro")
    assert lines[pro + 1].endswith(": 2 deals, 0 won (0%) · 0 ₽")
    # A date field, or a report that is not grouped, is answered and nothing is sent.
    for kind, field in ((Kind.FUNNEL, "contract_end"), (Kind.LOST, "product")):
        data = ReportBy(kind=kind, field=field).pack()
        refused = await h.deliver(h.api.callback(boss.user, data, by.last, strict=False))
        assert refused.messages == []
        assert refused.answer is not None
        assert refused.answer.params["text"] == "This report cannot be grouped by that field."
