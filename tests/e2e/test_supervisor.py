"""Supervisor analytics end to end: the real App over the fake Bot API (SQLite and PostgreSQL)."""

from __future__ import annotations

import struct
from datetime import timedelta

from bot.charts import CHART_SIZE
from crm.deals import ContactDraft, quick_add
from crm.engine import Press, Status, apply_outcome
from sandbox.botapi.spec import Upload
from storage.models import Deal, Task, TaskStatus
from tests.conftest import T0
from tests.e2e.harness import Harness, Staff


async def _deal(h: Harness, owner: Staff, phone: str, name: str = "Client") -> Deal:
    added = await quick_add(
        h.running.crm, ContactDraft(name=name, phones=(phone,)), owner_id=owner.employee.id,
        team=owner.employee.team,
    )
    assert added.deal is not None
    return added.deal


async def _press(h: Harness, deal: Deal, button: str, who: Staff, **kw: object) -> None:
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    out = await apply_outcome(h.running.crm, Press(task.id, button, who.employee, **kw))  # type: ignore[arg-type]
    assert out.status == Status.DONE


def _upload(exchange_calls: list, method: str, field: str) -> Upload:  # type: ignore[type-arg]
    calls = [c for c in exchange_calls if c.method.lower() == method and c.ok]
    assert len(calls) == 1, [c.method for c in exchange_calls]
    upload = calls[0].params[field]
    assert isinstance(upload, Upload)
    return upload


async def test_report_sends_a_chart_with_caption_and_a_csv(harness: Harness) -> None:
    boss = await harness.make_employee("supervisor", name="Boss")
    rep = await harness.make_employee("rep", name="Rita")
    await _press(harness, await _deal(harness, rep, "+74951110001"), "paid", rep)
    harness.clock.advance(timedelta(hours=1))  # the period ends now, exclusive
    menu = await harness.say(boss.user, "/report")
    assert menu.text == "Какой отчёт?" and len(menu.buttons) == 8
    periods = await harness.press_text(boss.user, menu.last, "Воронка")
    assert periods.text == "Воронка: за какой период?"
    sent = await harness.press_text(boss.user, periods.last, "30 дней")
    png = _upload(sent.calls, "sendphoto", "photo").data
    assert struct.unpack(">II", png[16:24]) == CHART_SIZE
    assert sent.text.startswith("Воронка · 26.10.2026–25.11.2026 · main")
    assert "\nНовый лид: 2 · 0 ₽\n" in sent.text and "\nОплачено: 1 · 0 ₽\n" in sent.text
    csv = await harness.press_text(boss.user, sent.last, "CSV")
    document = _upload(csv.calls, "senddocument", "document")
    assert document.filename == "funnel_20261026-20261125.csv"
    # What Russian Excel opens in columns, in the supervisor's language.
    assert document.data.decode().splitlines()[:2] == [
        "\ufeffЭтап;Вошло;Сумма, ₽;Конверсия", "Новый лид;2;0,00;",  # the deal and its repeat sale
    ]


async def test_a_rep_is_refused(harness: Harness) -> None:
    rep = await harness.make_employee("rep", name="Rita")
    for command in ("/report", "/overdue"):
        reply = await harness.say(rep.user, command)
        assert reply.text == "Отчёты и передача сделок доступны руководителям и администраторам."


async def test_overdue_lists_the_team_and_reassigns(harness: Harness) -> None:
    boss = await harness.make_employee("supervisor", name="Boss")
    rita = await harness.make_employee("rep", name="Rita")
    oleg = await harness.make_employee("rep", name="Oleg")
    stranger = await harness.make_employee("rep", name="Other team", team="b")
    deal = await _deal(harness, rita, "+74951110001", name="Anna")
    await _deal(harness, stranger, "+74951110002", name="Not ours")
    harness.clock.advance(timedelta(hours=2, minutes=5))
    listing = await harness.say(boss.user, "/overdue")
    assert "1. Rita · Anna · опоздание 2 ч 5 мин" in listing.text
    assert "Not ours" not in listing.text
    picker = await harness.press_text(boss.user, listing.last, "Передать 1")
    assert [b["text"] for b in picker.buttons] == ["Oleg", "✓ Rita"]
    done = await harness.press_text(boss.user, picker.last, "Oleg")
    assert done.text == "«Anna» → Oleg"  # no grammatical case to get wrong
    await deal.refresh_from_db()
    task = await Task.get(deal_id=deal.id, status=TaskStatus.OPEN)
    assert deal.owner_id == oleg.employee.id == task.assignee_id  # type: ignore[attr-defined]


async def test_reminder_and_digest_go_out_once_across_ticks(harness: Harness) -> None:
    boss = await harness.make_employee("supervisor", name="Boss")
    rep = await harness.make_employee("rep", name="Rita")
    deal = await _deal(harness, rep, "+74951110001")
    await _press(harness, deal, "call_back", rep, when=T0 + timedelta(hours=1))
    harness.clock.set(T0 + timedelta(minutes=52))  # 10:52 Moscow: digest hour 9 has passed
    first = await harness.tick()
    second = await harness.tick()
    reminders = [m for m in first.to(rep.user.id) if "🔔" in str(m.get("text"))]
    digests = first.to(boss.user.id)
    assert len(reminders) == 1
    assert len(digests) == 1 and digests[0]["text"].startswith("Сводка за 25.11, команда main")
    assert not [m for m in second.messages if "🔔" in str(m.get("text"))]
    assert not second.to(boss.user.id)
