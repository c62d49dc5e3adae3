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


def _d(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute)


# As reps type them, against NOW (Wednesday 25.11.2026 14:20 Moscow): Thu 26, Fri 27, Sat 28,
# Sun 29, Mon 30.11, Tue 01.12, Wed 02.12; 05.12 is a Saturday.
AS_REPS_TYPE: list[tuple[str, datetime]] = [
    # Month names, full and abbreviated, both languages, with or without a year and a time.
    ("5 дек", _d(12, 5)),
    ("5 дек.", _d(12, 5)),
    ("5 декабря", _d(12, 5)),
    ("5 декабря в 15:00", _d(12, 5, 15)),
    ("5 декабря 2026", _d(12, 5)),
    ("5 декабря 2026 года в 15:00", _d(12, 5, 15)),
    ("5 декабря 2026 г. 15:00", _d(12, 5, 15)),
    ("на 5 декабря", _d(12, 5)),
    ("к 5 декабря", _d(12, 5)),
    ("5-го декабря в 11", _d(12, 5, 11)),
    ("30 ноября 14:00", _d(11, 30, 14)),
    ("1 дек в 9 утра", _d(12, 1, 9)),
    ("12 янв 2027", _d(1, 12, year=2027)),
    ("31 дек 23:00", _d(12, 31, 23)),
    ("15 Декабря, 16:30", _d(12, 15, 16, 30)),
    ("2 сент 2027", _d(9, 2, year=2027)),
    ("Dec 5", _d(12, 5)),
    ("dec 5 3pm", _d(12, 5, 15)),
    ("December 5th 3pm", _d(12, 5, 15)),
    ("December 5th at 3pm", _d(12, 5, 15)),
    ("5th of December", _d(12, 5)),
    ("the 5th of December at 11am", _d(12, 5, 11)),
    ("on Dec 5 at 15:00", _d(12, 5, 15)),
    ("December 5, 2026", _d(12, 5)),
    ("Dec 5th 2026 10:30am", _d(12, 5, 10, 30)),
    ("5 Dec", _d(12, 5)),
    ("Nov 30 9am", _d(11, 30, 9)),
    ("dec 1st", _d(12, 1)),
    ("2nd of december 4pm", _d(12, 2, 16)),
    ("Sept 3rd 2027", _d(9, 3, year=2027)),
    ("Saturday 5th December 3pm", _d(12, 5, 15)),
    ("в субботу 5 декабря в 12", _d(12, 5, 12)),
    ("sat dec 5", _d(12, 5)),
    # Fractions and decimals, with a comma or a point; compound durations.
    ("через 2,5 часа", _d(11, 25, 16, 50)),
    ("через 2.5 часа", _d(11, 25, 16, 50)),
    ("in 1.5 hours", _d(11, 25, 15, 50)),
    ("in 1,5 hours", _d(11, 25, 15, 50)),
    ("через полтора часа", _d(11, 25, 15, 50)),
    ("через 1,5 дня", _d(11, 27, 2, 20)),  # a fraction of a day is elapsed time
    ("+1.5ч", _d(11, 25, 15, 50)),
    ("через 1 час 30 минут", _d(11, 25, 15, 50)),
    ("через час 30 минут", _d(11, 25, 15, 50)),
    ("in 1 hour 30 minutes", _d(11, 25, 15, 50)),
    ("in an hour and a half", _d(11, 25, 15, 50)),
    ("через час с половиной", _d(11, 25, 15, 50)),
    ("+1ч30м", _d(11, 25, 15, 50)),
    ("in 2h 15m", _d(11, 25, 16, 35)),
    ("через 45 минут", _d(11, 25, 15, 5)),
    ("in 45 mins", _d(11, 25, 15, 5)),
    ("через пару часов", _d(11, 25, 16, 20)),
    ("через 3 дня", _d(11, 28, 14, 20)),
    ("через пару дней", _d(11, 27, 14, 20)),
    ("in two weeks", _d(12, 9, 14, 20)),
    ("через 2 недели", _d(12, 9, 14, 20)),
    ("after 2 hours", _d(11, 25, 16, 20)),
    ("in 20 min", _d(11, 25, 14, 40)),
    # Parts of the day by name.
    ("полдень", _d(11, 26, 12)),
    ("завтра в полдень", _d(11, 26, 12)),
    ("tomorrow at noon", _d(11, 26, 12)),
    ("midnight", _d(11, 26, 0)),
    ("в полночь", _d(11, 26, 0)),
    ("после обеда", _d(11, 26, 14)),  # today's 14:00 has gone
    ("завтра после обеда", _d(11, 26, 14)),
    ("в пятницу после обеда", _d(11, 27, 14)),
    ("вечером", _d(11, 25, 18)),
    ("в конце дня", _d(11, 25, 17)),
    ("end of day", _d(11, 25, 17)),
    ("завтра в конце дня", _d(11, 26, 17)),
    ("eod tomorrow", _d(11, 26, 17)),
    ("by EOD", _d(11, 25, 17)),
    ("к концу дня", _d(11, 25, 17)),
    ("tomorrow morning", _d(11, 26, 10)),
    ("завтра с утра", _d(11, 26, 10)),
    ("завтра утром", _d(11, 26, 10)),
    ("tomorrow afternoon", _d(11, 26, 14)),
    ("tomorrow evening", _d(11, 26, 18)),
    ("tonight", _d(11, 25, 18)),
    ("this evening", _d(11, 25, 18)),
    ("до обеда", _d(11, 26, 11)),
    ("завтра до обеда", _d(11, 26, 11)),
    ("в обед", _d(11, 26, 13)),
    ("at lunch tomorrow", _d(11, 26, 13)),
    # Next week, and a weekday of it.
    ("на след. неделе", _d(11, 30)),
    ("в среду на следующей неделе", _d(12, 2)),
    ("next week wednesday", _d(12, 2)),
    ("wednesday next week 3pm", _d(12, 2, 15)),
    ("на следующей неделе в пятницу", _d(12, 4)),
    ("next week 10am", _d(11, 30, 10)),
    # 12-hour times, with and without a space; the 24-hour clock in its spellings.
    ("3pm", _d(11, 25, 15)),
    ("3 pm", _d(11, 25, 15)),
    ("3:30pm", _d(11, 25, 15, 30)),
    ("3:30 pm", _d(11, 25, 15, 30)),
    ("3.30pm", _d(11, 25, 15, 30)),
    ("at 5pm", _d(11, 25, 17)),
    ("11am", _d(11, 26, 11)),
    ("11 am tomorrow", _d(11, 26, 11)),
    ("12pm", _d(11, 26, 12)),
    ("12am", _d(11, 26, 0)),
    ("9 p.m.", _d(11, 25, 21)),
    ("10 A.M.", _d(11, 26, 10)),
    ("at 16", _d(11, 25, 16)),
    ("в 9 утра", _d(11, 26, 9)),
    ("в 7 вечера", _d(11, 25, 19)),
    ("в 3 ночи", _d(11, 26, 3)),
    ("в 2 часа дня", _d(11, 26, 14)),
    ("в 16", _d(11, 25, 16)),
    ("в 16:30", _d(11, 25, 16, 30)),
    ("в 16-30", _d(11, 25, 16, 30)),
    ("к 17", _d(11, 25, 17)),
    ("на 17:00", _d(11, 25, 17)),
    ("около 17", _d(11, 25, 17)),
    ("at 16:45", _d(11, 25, 16, 45)),
    ("16ч", _d(11, 25, 16)),
    ("в 16 часов", _d(11, 25, 16)),
    ("18.00", _d(11, 25, 18)),
    # Weekdays in every case and abbreviation, with and without a time.
    ("в понедельник", _d(11, 30)),
    ("понедельник", _d(11, 30)),
    ("пн", _d(11, 30)),
    ("пн.", _d(11, 30)),
    ("на понедельник", _d(11, 30)),
    ("к понедельнику", _d(11, 30)),
    ("до понедельника", _d(11, 30)),
    ("в понедельник в 15", _d(11, 30, 15)),
    ("пн 15:00", _d(11, 30, 15)),
    ("вторник 11:00", _d(12, 1, 11)),
    ("во вт в 11", _d(12, 1, 11)),
    ("вт 9", _d(12, 1, 9)),
    ("в среду", _d(12, 2)),  # today is Wednesday, its 10:00 has gone
    ("ср 16", _d(11, 25, 16)),
    ("к среде", _d(12, 2)),
    ("в четверг", _d(11, 26)),
    ("чт 12:00", _d(11, 26, 12)),
    ("четверг утром", _d(11, 26)),
    ("в пятницу", _d(11, 27)),
    ("пятница 15:00", _d(11, 27, 15)),
    ("к пятнице", _d(11, 27)),
    ("птн 11", _d(11, 27, 11)),
    ("в эту пятницу", _d(11, 27)),
    ("в ближайшую пятницу", _d(11, 27)),
    ("в субботу", _d(11, 28)),
    ("сб 12", _d(11, 28, 12)),
    ("в воскресенье вечером", _d(11, 29, 18)),
    ("вс 11", _d(11, 29, 11)),
    ("в след. понедельник", _d(11, 30)),
    ("в следующий четверг в 14", _d(11, 26, 14)),  # "next" is never today, tomorrow may be
    ("monday", _d(11, 30)),
    ("mon 3pm", _d(11, 30, 15)),
    ("on monday at 10", _d(11, 30, 10)),
    ("tues 11am", _d(12, 1, 11)),
    ("weds 4pm", _d(11, 25, 16)),
    ("thurs 9:30", _d(11, 26, 9, 30)),
    ("fri", _d(11, 27)),
    ("this friday 2pm", _d(11, 27, 14)),
    ("next fri", _d(11, 27)),
    ("friday afternoon", _d(11, 27, 14)),
    ("sat 12", _d(11, 28, 12)),
    ("sunday evening", _d(11, 29, 18)),
    ("by friday", _d(11, 27)),
    # Days relative to today.
    ("завтра в 9", _d(11, 26, 9)),
    ("на завтра", _d(11, 26)),
    ("на послезавтра", _d(11, 27)),
    ("на сегодня 17:00", _d(11, 25, 17)),
    ("Friday 3pm", _d(11, 27, 15)),
    ("завтра в 9:30", _d(11, 26, 9, 30)),
    ("завтра 9.30", _d(11, 26, 9, 30)),
    ("tmrw 10am", _d(11, 26, 10)),
    ("tomorrow 10", _d(11, 26, 10)),
    ("tomorrow at 9:15", _d(11, 26, 9, 15)),
    ("послезавтра", _d(11, 27)),
    ("послезавтра в 14:00", _d(11, 27, 14)),
    ("the day after tomorrow at 11am", _d(11, 27, 11)),
    ("сегодня в 18", _d(11, 25, 18)),
    ("today at 17:30", _d(11, 25, 17, 30)),
    ("через 2 дня в 15:00", _d(11, 27, 15)),
    ("in 3 days at 10am", _d(11, 28, 10)),
    ("через неделю в 11", _d(12, 2, 11)),
    # Numeric dates.
    ("01.12", _d(12, 1)),
    ("1.12 в 15:00", _d(12, 1, 15)),
    ("01.12.2026 9:00", _d(12, 1, 9)),
    ("2/12", _d(12, 2)),
    ("31.12 18:00", _d(12, 31, 18)),
    ("25,12", _d(12, 25)),
    ("25.12.26 14:00", _d(12, 25, 14)),
]


@pytest.mark.parametrize(("text", "wall"), AS_REPS_TYPE)
def test_parses_as_reps_type(text: str, wall: datetime) -> None:
    result = parse_when(text, NOW)
    assert isinstance(result, datetime), result
    assert result.tzinfo is MOSCOW
    assert result.replace(tzinfo=None) == wall


# Asked again: the reason, and the time offered for one tap when there is a sensible one.
ASKED_AGAIN: list[tuple[str, str, datetime | None]] = [
    ("20.11", "next_year", _d(11, 20, year=2027)),  # gone this year: confirm, not moved silently
    ("14.10", "next_year", _d(10, 14, year=2027)),  # a dotted pair that can be a date is one
    ("3 января", "next_year", _d(1, 3, year=2027)),
    ("15 марта 12:00", "next_year", _d(3, 15, 12, year=2027)),
    ("jan 3 3pm", "next_year", _d(1, 3, 15, year=2027)),
    ("3rd of January", "next_year", _d(1, 3, year=2027)),
    ("29.02", "next_year", _d(2, 29, year=2028)),  # the next year that has the day
    ("сегодня в 5", "past", _d(11, 25, 17)),  # a small hour gone today: its afternoon reading
    ("today at 3", "past", _d(11, 25, 15)),
    ("сегодня в 9", "past", _d(11, 26, 9)),  # 21:00 is no sensible reading: tomorrow
    ("today 2:19pm", "past", _d(11, 26, 14, 19)),
    ("25.11 10:00", "past", _d(11, 26, 10)),
    ("сегодня утром", "past", _d(11, 26, 10)),
    ("25 ноября 9:00", "past", _d(11, 26, 9)),
    ("20.11.2026", "past", None),  # a day already gone: nothing sensible to offer
    ("1 ноября 2026", "past", None),
    ("вчера", "unrecognized", None),
    ("когда-нибудь потом", "unrecognized", None),
    ("позже", "unrecognized", None),
    ("later", "unrecognized", None),
    ("asap", "unrecognized", None),
    ("в 25", "invalid_time", None),
    ("в 13 утра", "invalid_time", None),
    ("at 0pm", "invalid_time", None),
    ("32 декабря", "invalid_date", None),
    ("31 ноября", "invalid_date", None),
    ("feb 30", "invalid_date", None),
    ("пт 5 декабря", "invalid_date", None),  # 05.12.2026 is a Saturday: which one was meant?
    ("через 0,4 минуты", "zero_duration", None),
    ("через 3 года", "unrecognized", None),
    ("через 800 дней", "too_far", None),
    ("через 999999999 дней в 10", "too_far", None),  # raised OverflowError once
    ("через 99999999 недель в 10", "too_far", None),
    ("через 1,5 дня в 15:00", "unrecognized", None),  # a time on a day and a half: which?
]


@pytest.mark.parametrize(("text", "reason", "suggestion"), ASKED_AGAIN)
def test_asked_again(text: str, reason: str, suggestion: datetime | None) -> None:
    result = parse_when(text, NOW)
    assert isinstance(result, ParseFailure), result
    assert result.reason == reason
    offered = result.suggestion
    assert (offered.replace(tzinfo=None) if offered else None) == suggestion
    assert offered is None or offered.tzinfo is MOSCOW


def test_the_table_is_big_enough() -> None:
    assert len(PARSED) + len(AS_REPS_TYPE) + len(ASKED_AGAIN) + len(FAILED) >= 150


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
    "января", "дек.", "dec", "december", "5th", "of", "2026", "года", "2,5", "1.5", "полтора",
    "hours", "после", "обеда", "конце", "дня", "eod", "midnight", "полночь", "пятницы", "weds",
    "week", "3-го", "с", "половиной", "and", "a", "half", "29", "0.4", "999999999", "дней",
    "недель",
]
MIXES = st.lists(st.sampled_from(TOKENS), max_size=6).map(" ".join)


def _check_outcome(result: datetime | ParseFailure, now: datetime) -> None:
    if isinstance(result, ParseFailure):
        if result.suggestion is None:
            return
        result = result.suggestion
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
