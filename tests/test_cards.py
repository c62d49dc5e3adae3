"""The task card without Telegram: text, keyboard, client time, callback data limits."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, User
from hypothesis import given
from hypothesis import strategies as st

from bot import callbacks
from bot.cards import (
    CardData,
    TaskView,
    TimelineLine,
    escaped_within,
    format_when,
    load_card,
    outcome_summary,
    render_card,
    utc_offset,
)
from bot.i18n import create_i18n, speaking
from bot.keyboards import regions_keyboard, slot_label
from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Outcome, Press, Status, apply_outcome
from crm.feed import Slot
from crm.phones import REGION_ZONES
from storage.models import DealStatus, Employee, EventKind, Role, Task, TaskStatus
from tests.conftest import T0

PLAYBOOK = load_playbook()
MOSCOW = ZoneInfo("Europe/Moscow")
I18N = create_i18n()
LONGEST_KEY = "x" * 32  # playbook keys are at most 32 characters
LONGEST_ID = 2**31 - 1  # the largest id of a Tortoise IntField primary key
# A slot is at most a few weeks ahead; minutes since the epoch stay 8 digits until 2160.
LONGEST_MINUTE = int(datetime(2159, 12, 31, tzinfo=UTC).timestamp()) // 60


@pytest.fixture(params=["ru", "en"])
def lang(request: pytest.FixtureRequest) -> Iterator[str]:
    with speaking(I18N, request.param):
        yield request.param


def _speak(lang: str) -> AbstractContextManager[None]:
    return speaking(I18N, lang)


def _data(**changes: object) -> CardData:
    base = dict(
        deal_id=7,
        stage="new",
        status=DealStatus.OPEN,
        amount=1_500_000,
        tags=("vip",),
        contact_name="Анна <Петрова>",
        company="ООО «Ромашка» & Co",
        phones=("+74951234567",),
        client_tz="Asia/Novosibirsk",
        task=TaskView(
            id=42,
            kind="call",
            due_at=T0 + timedelta(minutes=5),
            attempt=1,
            planned_by="busy",
            open=True,
        ),
        events=(
            TimelineLine(
                T0,
                EventKind.OUTCOME,
                "",
                {"button": "busy", "due": (T0 + timedelta(minutes=5)).isoformat()},
            ),
            TimelineLine(T0 - timedelta(hours=1), EventKind.NOTE, "asked for <b>discount</b>", {}),
            TimelineLine(T0 - timedelta(hours=2), EventKind.CREATED, "", {"stage": "new"}),
        ),
    )
    return CardData(**(base | changes))  # type: ignore[arg-type]


def _labels(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None
    return [b.text for row in markup.inline_keyboard for b in row]


def _datas(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None
    return [b.callback_data or "" for row in markup.inline_keyboard for b in row]


def test_english_card_shows_the_deal_and_the_stage_buttons() -> None:
    with _speak("en"):
        card = render_card(_data(), PLAYBOOK, "en", T0, MOSCOW)
    text = card.text
    assert "<b>Анна &lt;Петрова&gt;</b> · ООО «Ромашка» &amp; Co" in text
    assert "+7 495 123-45-67" in text
    # T0 is 07:00 UTC; Novosibirsk is UTC+7.
    assert "client's time 14:00, UTC+7" in text
    assert "Stage: <b>New lead</b> · attempt 2/5" in text
    assert "#vip" in text and "15 000" in text
    assert "<b>Call</b>, due 10:05" in text
    # Newest timeline line first; user text escaped.
    assert text.index("Busy → 25.11 10:05") < text.index("asked for &lt;b&gt;discount")
    assert _labels(card.markup) == [
        "No answer",
        "Call back",
        "Invoice sent",
        "Paid",
        "Refused",
        "Note",
        "📝 Fields",  # the playbook has custom fields
    ]
    assert card.task_id == 42


def test_russian_card_uses_russian_labels_and_words() -> None:
    with _speak("ru"):
        card = render_card(_data(), PLAYBOOK, "ru", T0, MOSCOW)
    assert "у клиента 14:00, UTC+7" in card.text
    assert "Этап: <b>Новый лид</b> · попытка 2/5" in card.text
    assert _labels(card.markup) == [
        "Не дозвонился",
        "Перезвонить",
        "Счёт выставлен",
        "Оплачено",
        "Отказ",
        "Заметка",
        "📝 Поля",
    ]


def test_hint_of_the_button_that_planned_the_task(lang: str) -> None:
    task = TaskView(
        id=1,
        kind="payment_check",
        due_at=T0 + timedelta(days=1),
        attempt=0,
        planned_by="invoice_sent",
        open=True,
    )
    card = render_card(_data(stage="invoice_sent", task=task), PLAYBOOK, lang, T0, MOSCOW)
    hint = PLAYBOOK.buttons["invoice_sent"].hint
    assert hint is not None and hint.get(lang) in card.text
    assert PLAYBOOK.task_kinds["payment_check"].get(lang) in card.text
    assert "5/5" not in card.text and "/5" not in card.text  # not on the ladder


def test_a_new_deals_first_task_shows_attempt_one_of_the_ladder(lang: str) -> None:
    first = TaskView(id=1, kind="call", due_at=T0, attempt=0, planned_by=None, open=True)
    card = render_card(_data(task=first), PLAYBOOK, lang, T0, MOSCOW)
    assert ("попытка 1/5" if lang == "ru" else "attempt 1/5") in card.text


def test_a_closing_outcome_reads_as_one_outcome(lang: str) -> None:
    paid = Outcome(Status.DONE, deal_id=1, stage="paid")
    line = outcome_summary(PLAYBOOK, lang, "paid", paid, T0, MOSCOW)
    assert line == PLAYBOOK.buttons["paid"].label.get(lang)  # not "Paid → Paid"
    refused = Outcome(Status.DONE, deal_id=1, stage="refused")
    line = outcome_summary(PLAYBOOK, lang, "refused", refused, T0, MOSCOW, reason="price")
    label, reason = PLAYBOOK.buttons["refused"].label.get(lang), PLAYBOOK.reasons["price"].get(lang)
    assert line == f"{label} ({reason})"


@pytest.mark.parametrize(
    ("zone", "moment", "shown"),
    [
        ("Asia/Kamchatka", datetime(2026, 11, 25, 7, 0, tzinfo=UTC), "19:00, UTC+12"),
        ("Europe/Kaliningrad", datetime(2026, 11, 25, 7, 0, tzinfo=UTC), "09:00, UTC+2"),
        ("America/St_Johns", datetime(2026, 11, 25, 7, 0, tzinfo=UTC), "03:30, UTC-3:30"),
        # Berlin in summer and in winter: the offset follows DST.
        ("Europe/Berlin", datetime(2026, 7, 1, 12, 4, tzinfo=UTC), "14:04, UTC+2"),
        ("Europe/Berlin", datetime(2026, 12, 1, 12, 4, tzinfo=UTC), "13:04, UTC+1"),
    ],
)
def test_client_local_time_and_offset(zone: str, moment: datetime, shown: str) -> None:
    clock = FakeClock(moment)
    with _speak("en"):
        card = render_card(_data(client_tz=zone), PLAYBOOK, "en", clock.now(), MOSCOW)
    assert f"client's time {shown}" in card.text


def test_client_time_moves_with_the_clock() -> None:
    clock = FakeClock(T0)
    with _speak("en"):
        before = render_card(_data(), PLAYBOOK, "en", clock.now(), MOSCOW).text
        clock.advance(timedelta(minutes=64))
        after = render_card(_data(), PLAYBOOK, "en", clock.now(), MOSCOW).text
    assert "client's time 14:00" in before and "client's time 15:04" in after


def test_offset_format() -> None:
    assert utc_offset(datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Kolkata"))) == "UTC+5:30"
    assert utc_offset(datetime(2026, 1, 1, tzinfo=UTC)) == "UTC+0"


def test_unknown_zone_offers_one_region_button(lang: str) -> None:
    card = render_card(_data(client_tz=None), PLAYBOOK, lang, T0, MOSCOW)
    assert "UTC+" not in card.text
    assert not [d for d in _datas(card.markup) if d.startswith("z:")]  # no list under the card
    assert [d for d in _datas(card.markup) if d.startswith("zl:")] == ["zl:42"]


def test_region_list_puts_the_reps_recent_picks_first(lang: str) -> None:
    with _speak(lang):
        markup = regions_keyboard(42, ["nsk", "gone", "msk"])
    rows = [[callbacks.ZonePick.unpack(b.callback_data or "").zone for b in row]
            for row in markup.inline_keyboard[:-1]]
    assert rows[0] == ["nsk", "msk"]  # recent first, a key no longer listed dropped
    assert [z for row in rows for z in row] == ["nsk", "msk"] + [
        z for z in REGION_ZONES if z not in ("nsk", "msk")
    ]
    assert all(len(row) <= 3 for row in rows)
    assert markup.inline_keyboard[-1][0].callback_data == "m:42"  # Back to the card


def test_known_zone_has_no_region_buttons() -> None:
    with _speak("en"):
        card = render_card(_data(), PLAYBOOK, "en", T0, MOSCOW)
    assert not [d for d in _datas(card.markup) if d.startswith("z:")]


def test_closed_deal_has_no_buttons(lang: str) -> None:
    task = TaskView(id=1, kind="call", due_at=T0, attempt=0, planned_by=None, open=False)
    card = render_card(
        _data(stage="paid", status=DealStatus.WON, task=task), PLAYBOOK, lang, T0, MOSCOW
    )
    assert card.markup is None


def test_huge_notes_keep_the_card_within_telegram_limits() -> None:
    note = TimelineLine(T0, EventKind.NOTE, "я" * 10_000, {})
    with _speak("en"):
        card = render_card(
            _data(events=(note,) * 3, contact_name="N" * 200, tags=("t" * 60,) * 40),
            PLAYBOOK,
            "en",
            T0,
            MOSCOW,
        )
    assert len(card.text) <= 4096


def test_callback_data_fits_64_bytes_for_the_longest_values() -> None:
    longest = [
        callbacks.TaskAction(task=LONGEST_ID, button=LONGEST_KEY),
        callbacks.SubMenuBack(task=LONGEST_ID),
        callbacks.SlotPick(task=LONGEST_ID, button=LONGEST_KEY, minute=LONGEST_MINUTE),
        callbacks.ReasonPick(task=LONGEST_ID, button=LONGEST_KEY, index=99),
        callbacks.ZonePick(task=LONGEST_ID, zone=max(REGION_ZONES, key=len)),
        callbacks.ConveyorToggle(on=1),
        callbacks.NextTask(),
        callbacks.OpenDeal(deal=LONGEST_ID),
        callbacks.PipelineAction(action="setcolour", stage=LONGEST_ID, arg=LONGEST_KEY, lang="en"),
    ]
    for data in longest:
        packed = data.pack()
        assert len(packed.encode()) <= MAX_CALLBACK_LENGTH, packed
        assert type(data).unpack(packed) == data


@pytest.mark.parametrize(
    "forged",
    [
        "a:notanumber:busy",
        "a:1",
        "a:1:busy:extra",
        "s:1:call_back:soon",
        "r:1:refused:x",
        "zz:1",
        "x",
        "a:" + "9" * 100 + "x:busy",
        "d:-",
        "z:1",
    ],
)
async def test_forged_callback_data_matches_no_handler(forged: str) -> None:
    query = CallbackQuery(
        id="1", from_user=User(id=1, is_bot=False, first_name="x"), chat_instance="1", data=forged
    )
    factories = (
        callbacks.TaskAction,
        callbacks.SlotPick,
        callbacks.ReasonPick,
        callbacks.ZonePick,
        callbacks.OpenDeal,
        callbacks.SubMenuBack,
    )
    # The filter is what the router runs: unparseable data reaches the "Unknown button" fallback.
    assert [await f.filter()(query) for f in factories] == [False] * len(factories)


async def test_load_card_of_a_known_deal(crm: Crm, lang: str) -> None:
    rep = await Employee.create(name="rep", role=Role.REP, tz="Europe/Moscow")
    added = await quick_add(
        crm,
        ContactDraft(name="Anna", phones=("+79131234567",), company="Acme"),
        owner_id=rep.id,
        team="main",
    )
    assert added.deal is not None
    task = await Task.get(deal_id=added.deal.id, status=TaskStatus.OPEN)
    outcome = await apply_outcome(crm, Press(task.id, "no_pickup", rep))
    assert outcome.status == Status.DONE and outcome.next_task_id
    card = await load_card(crm, outcome.next_task_id, lang, rep)
    assert card is not None and card.task_id == outcome.next_task_id
    assert "Anna" in card.text and "Acme" in card.text and "+7 913 123-45-67" in card.text
    assert PLAYBOOK.buttons["no_pickup"].label.get(lang) in card.text
    # A Russian mobile number does not tell the zone: the Region button is offered.
    assert any(d.startswith("zl:") for d in _datas(card.markup))
    assert "2/5" in card.text
    old = await load_card(crm, task.id, lang, rep)
    assert old is not None and old.markup is None  # the closed task has no buttons
    assert await load_card(crm, 10_000, lang, rep) is None


# Mostly what escaping turns into entities, so cuts land next to (and would land inside) them.
MARKUP_HEAVY = st.text(st.sampled_from("a&<>\"'…") | st.characters(), max_size=60)


@given(MARKUP_HEAVY, st.integers(0, 70))
def test_escaped_text_fits_its_room_and_never_splits_an_entity(text: str, room: int) -> None:
    escaped = escaped_within(text, room)
    shown = html.unescape(escaped)  # what Telegram shows and counts
    assert html.escape(shown) == escaped  # every & starts a whole entity, no bare < or >
    assert len(shown) <= room
    if len(text) <= room:
        assert shown == text
    else:
        assert shown == (text[: room - 1] + "…" if room else "")


MSK = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 12, 28, 15, 0, tzinfo=MSK), "15:00"),
        (datetime(2026, 12, 29, 10, 0, tzinfo=MSK), "tomorrow 10:00"),
        (datetime(2026, 12, 31, 10, 0, tzinfo=MSK), "Thu 10:00"),
        # Five days on too, but a weekday would hide that this is next year.
        (datetime(2027, 1, 2, 10, 0, tzinfo=MSK), "02.01.2027 10:00"),
        (datetime(2027, 11, 20, 10, 0, tzinfo=MSK), "20.11.2027 10:00"),
    ],
)
def test_format_when_shows_the_year_only_when_not_the_current_one(
    moment: datetime, shown: str
) -> None:
    now = datetime(2026, 12, 28, 12, 0, tzinfo=MSK)  # a Monday
    with _speak("en"):
        assert format_when(moment, now, MSK) == shown


def test_slot_labels_show_the_year_only_when_not_the_current_one() -> None:
    now = datetime(2026, 12, 31, 18, 30, tzinfo=MSK)
    assert slot_label(Slot(datetime(2026, 12, 31, 18, 0, tzinfo=MSK), 2), now, MSK) == "18:00 · 2"
    late = Slot(datetime(2027, 1, 4, 9, 0, tzinfo=MSK), 0)
    assert slot_label(late, now, MSK) == "04.01.2027 09:00 · 0"


def test_timeline_lines_show_the_year_only_when_not_the_current_one() -> None:
    now = datetime(2027, 1, 3, 12, 0, tzinfo=MSK)
    last_year = datetime(2026, 12, 30, 10, 0, tzinfo=MSK)
    events = (
        TimelineLine(now - timedelta(hours=1), EventKind.NOTE, "called back", {}),
        TimelineLine(last_year, EventKind.OUTCOME, "",
                     {"button": "busy", "due": (last_year + timedelta(days=4)).isoformat()}),
        TimelineLine(last_year, EventKind.CREATED, "", {"stage": "new"}),
    )
    with _speak("en"):
        text = render_card(_data(events=events), PLAYBOOK, "en", now, MSK).text
    assert "• 03.01 11:00 Note: called back" in text
    assert "• 30.12.2026 10:00 Busy → 03.01 10:00" in text
    assert "• 30.12.2026 10:00 Deal created" in text
