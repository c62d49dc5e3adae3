from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.dateparse import EXAMPLES, ParseFailure, parse_when

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
# A Wednesday afternoon.
NOW = datetime(2026, 11, 25, 14, 20, tzinfo=MOSCOW)


PARSED: list[tuple[str, datetime]] = [
    ("завтра 15:00", datetime(2026, 11, 26, 15, 0)),
    ("через 2 часа", datetime(2026, 11, 25, 16, 20)),
    ("через 15 минут", datetime(2026, 11, 25, 14, 35)),
    ("через полчаса", datetime(2026, 11, 25, 14, 50)),
    ("через пол часа", datetime(2026, 11, 25, 14, 50)),
    ("через час", datetime(2026, 11, 25, 15, 20)),
    ("через два часа", datetime(2026, 11, 25, 16, 20)),
    ("+30м", datetime(2026, 11, 25, 14, 50)),
    ("+2ч", datetime(2026, 11, 25, 16, 20)),
    ("+1д", datetime(2026, 11, 26, 14, 20)),
    ("+30m", datetime(2026, 11, 25, 14, 50)),
    ("+2h", datetime(2026, 11, 25, 16, 20)),
    ("+ 30 мин", datetime(2026, 11, 25, 14, 50)),
    ("пт 10", datetime(2026, 11, 27, 10, 0)),
    ("в пятницу в 10", datetime(2026, 11, 27, 10, 0)),
    ("пт", datetime(2026, 11, 27, 10, 0)),
    ("в среду в 16", datetime(2026, 11, 25, 16, 0)),  # today is Wednesday, 16:00 still ahead
    ("в среду в 10", datetime(2026, 12, 2, 10, 0)),  # today's 10:00 has passed
    ("в следующую среду в 16", datetime(2026, 12, 2, 16, 0)),
    ("25.12 14:30", datetime(2026, 12, 25, 14, 30)),
    ("25.12.2026 14:30", datetime(2026, 12, 25, 14, 30)),
    ("25.12.26", datetime(2026, 12, 25, 10, 0)),
    ("25/12", datetime(2026, 12, 25, 10, 0)),
    ("20.11", datetime(2027, 11, 20, 10, 0)),  # gone this year → next year
    ("14.10", datetime(2027, 10, 14, 10, 0)),  # a dotted pair that can be a date is one
    ("в понедельник утром", datetime(2026, 11, 30, 10, 0)),
    ("во вторник днём", datetime(2026, 12, 1, 14, 0)),
    ("в четверг вечером", datetime(2026, 11, 26, 18, 0)),
    ("послезавтра в 9", datetime(2026, 11, 27, 9, 0)),
    ("сегодня в 17:30", datetime(2026, 11, 25, 17, 30)),
    ("сегодня вечером", datetime(2026, 11, 25, 18, 0)),
    ("завтра", datetime(2026, 11, 26, 10, 0)),
    ("в 15", datetime(2026, 11, 25, 15, 0)),
    ("в 9", datetime(2026, 11, 26, 9, 0)),  # earlier than now → tomorrow
    ("в 5", datetime(2026, 11, 26, 5, 0)),  # 24-hour clock unless told otherwise
    ("в 5 вечера", datetime(2026, 11, 25, 17, 0)),
    ("в 3 часа дня", datetime(2026, 11, 25, 15, 0)),
    ("в 12 ночи", datetime(2026, 11, 26, 0, 0)),
    ("15:00", datetime(2026, 11, 25, 15, 0)),
    ("15.00", datetime(2026, 11, 25, 15, 0)),
    ("10.30", datetime(2026, 11, 26, 10, 30)),
    ("в 15:00 завтра", datetime(2026, 11, 26, 15, 0)),
    ("tomorrow 3pm", datetime(2026, 11, 26, 15, 0)),
    ("tomorrow at 15:30", datetime(2026, 11, 26, 15, 30)),
    ("3pm tomorrow", datetime(2026, 11, 26, 15, 0)),
    ("10 a.m. tomorrow", datetime(2026, 11, 26, 10, 0)),
    ("in 3 days", datetime(2026, 11, 28, 14, 20)),
    ("in 2 hours", datetime(2026, 11, 25, 16, 20)),
    ("in 30 min", datetime(2026, 11, 25, 14, 50)),
    ("in half an hour", datetime(2026, 11, 25, 14, 50)),
    ("next monday 10:00", datetime(2026, 11, 30, 10, 0)),
    ("monday 10am", datetime(2026, 11, 30, 10, 0)),
    ("today 5pm", datetime(2026, 11, 25, 17, 0)),
    ("noon", datetime(2026, 11, 26, 12, 0)),
    ("в полдень", datetime(2026, 11, 26, 12, 0)),
    ("friday morning", datetime(2026, 11, 27, 10, 0)),
    ("day after tomorrow 9", datetime(2026, 11, 27, 9, 0)),
    ("через неделю", datetime(2026, 12, 2, 14, 20)),
    ("in a week", datetime(2026, 12, 2, 14, 20)),
    ("на следующей неделе", datetime(2026, 11, 30, 10, 0)),
    ("next week", datetime(2026, 11, 30, 10, 0)),
    # Case, ё, commas, extra spaces, trailing punctuation.
    ("  ЗАВТРА,   в 15:00!! ", datetime(2026, 11, 26, 15, 0)),
    ("Послезавтра днём.", datetime(2026, 11, 27, 14, 0)),
    ("Tomorrow 3PM?", datetime(2026, 11, 26, 15, 0)),
]


@pytest.mark.parametrize(("text", "wall"), PARSED)
def test_parses(text: str, wall: datetime) -> None:
    result = parse_when(text, NOW)
    assert isinstance(result, datetime), result
    assert result.tzinfo is MOSCOW
    assert result.replace(tzinfo=None) == wall


FAILED: list[tuple[str, str]] = [
    ("", "empty"),
    (" ,.! ", "empty"),
    ("абракадабра", "unrecognized"),
    ("15", "unrecognized"),  # a lone number needs a day or "в"
    ("через 3 года", "unrecognized"),
    ("завтра " * 30, "unrecognized"),
    ("31.02", "invalid_date"),
    ("31.04.2027 10:00", "invalid_date"),
    ("12/25 2:30pm", "invalid_date"),  # slashes are day/month
    ("29.02.2027", "invalid_date"),
    ("25:61", "invalid_time"),
    ("в 24:00", "invalid_time"),
    ("завтра в 13 утра", "invalid_time"),
    ("сегодня в 9", "past"),
    ("today 2:19pm", "past"),
    ("25.11 10:00", "past"),  # today's date with a passed time is not moved a year on
    ("20.11.2026", "past"),
    ("01.01.0001 00:00", "past"),
    ("25.12.2030", "too_far"),
    ("31.12.9999 23:59", "too_far"),
    ("+1000д", "too_far"),
    ("+999999999ч", "too_far"),
    ("+0м", "zero_duration"),
    ("через 0 минут", "zero_duration"),
]


@pytest.mark.parametrize(("text", "reason"), FAILED)
def test_fails_with_reason(text: str, reason: str) -> None:
    result = parse_when(text, NOW)
    assert isinstance(result, ParseFailure), result
    assert result.reason == reason


def test_leap_day_goes_to_next_leap_year() -> None:
    result = parse_when("29.02", NOW)
    assert isinstance(result, datetime)
    assert result.replace(tzinfo=None) == datetime(2028, 2, 29, 10, 0)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_when("завтра", NOW.replace(tzinfo=None))


def test_examples_parse() -> None:
    for examples in EXAMPLES.values():
        for example in examples.split(", "):
            assert isinstance(parse_when(example, NOW), datetime), example


# Berlin springs forward on Sunday 2026-03-29 (02:00 → 03:00) and falls back on Sunday
# 2026-10-25 (03:00 → 02:00).
SAT_BEFORE_SPRING = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
SAT_BEFORE_FALL = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)
DST: list[tuple[datetime, str, datetime, int]] = [
    (SAT_BEFORE_SPRING, "завтра 10:00", datetime(2026, 3, 29, 10, 0), 2),
    (SAT_BEFORE_SPRING, "+1д", datetime(2026, 3, 29, 12, 0), 2),  # calendar day: 23 hours
    (SAT_BEFORE_SPRING, "+24ч", datetime(2026, 3, 29, 13, 0), 2),  # elapsed hours
    (SAT_BEFORE_SPRING, "завтра 2:30", datetime(2026, 3, 29, 3, 30), 2),  # gap: moved forward
    (datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN), "через 2 часа", datetime(2026, 3, 29, 4, 30), 2),
    (SAT_BEFORE_FALL, "завтра 10:00", datetime(2026, 10, 25, 10, 0), 1),
    (SAT_BEFORE_FALL, "+1д", datetime(2026, 10, 25, 12, 0), 1),  # calendar day: 25 hours
    (SAT_BEFORE_FALL, "+24ч", datetime(2026, 10, 25, 11, 0), 1),
    (SAT_BEFORE_FALL, "завтра 2:30", datetime(2026, 10, 25, 2, 30), 2),  # ambiguous: first one
]


@pytest.mark.parametrize(("now", "text", "wall", "offset_hours"), DST)
def test_dst(now: datetime, text: str, wall: datetime, offset_hours: int) -> None:
    result = parse_when(text, now)
    assert isinstance(result, datetime), result
    assert result.tzinfo is BERLIN
    assert result.replace(tzinfo=None) == wall
    assert result.utcoffset() == timedelta(hours=offset_hours)


ZONES = st.sampled_from(
    [MOSCOW, BERLIN, ZoneInfo("Asia/Novosibirsk"), ZoneInfo("America/New_York"), UTC]
)


@st.composite
def aware_nows(draw: st.DrawFn) -> datetime:
    moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
    return moment.replace(tzinfo=UTC).astimezone(draw(ZONES))


TOKENS = [
    "завтра", "послезавтра", "сегодня", "через", "in", "+", "в", "во", "на", "at", "next",
    "следующей", "неделе", "пт", "пятницу", "monday", "tomorrow", "today", "утром", "вечером",
    "днём", "noon", "полчаса", "час", "часа", "минут", "м", "ч", "д", "h", "m", "days", "week",
    "утра", "вечера", "pm", "am", "0", "1", "5", "12", "15", "24", "99", "15:00", "25:61",
    "15.00", "25.12", "31.02", "29.02", "25/12", "12/25", "25.12.2026", "01.01.0001",
    "31.12.9999", "+30м", "2:30pm", "10am", ",", "!", "ё",
]
MIXES = st.lists(st.sampled_from(TOKENS), max_size=6).map(" ".join)


def _check_outcome(result: datetime | ParseFailure, now: datetime) -> None:
    if isinstance(result, ParseFailure):
        return
    assert result.tzinfo is now.tzinfo
    assert result.utcoffset() is not None
    # Compared in UTC: datetimes sharing a tzinfo would otherwise compare by wall time.
    assert result.astimezone(UTC) > now.astimezone(UTC)


@given(st.text(max_size=200), aware_nows())
def test_never_raises_on_arbitrary_text(text: str, now: datetime) -> None:
    _check_outcome(parse_when(text, now), now)


@given(MIXES, aware_nows())
def test_never_raises_on_token_mixes(text: str, now: datetime) -> None:
    _check_outcome(parse_when(text, now), now)


@given(
    st.integers(min_value=1, max_value=1_000_000),
    st.sampled_from(["+{}м", "+{}m", "+ {} мин", "in {} min", "через {} минут", "in {} minutes"]),
    aware_nows(),
)
def test_minutes_are_exact_elapsed_time(n: int, template: str, now: datetime) -> None:
    result = parse_when(template.format(n), now)
    assert isinstance(result, datetime), result
    assert result.astimezone(UTC) == now.astimezone(UTC) + timedelta(minutes=n)
    assert result.tzinfo is now.tzinfo
