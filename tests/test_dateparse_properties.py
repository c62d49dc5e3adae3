"""Typed times (crm.dateparse) on any text, at any moment in several zones: never an error,
never a moment that is not ahead; minutes are exact elapsed time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from crm.dateparse import ParseFailure, parse_when

ZONES = st.sampled_from(
    [
        ZoneInfo("Europe/Moscow"),
        ZoneInfo("Europe/Berlin"),
        ZoneInfo("Asia/Novosibirsk"),
        ZoneInfo("America/New_York"),
        UTC,
    ]
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
