"""Typed times (crm.dateparse): every phrasing in the tables read as it should, and DST."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.dateparse import EXAMPLES, ParseFailure, parse_when
from tests.dateparse_phrasings import AS_REPS_TYPE, ASKED_AGAIN, FAILED, MOSCOW, NOW, PARSED

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(("text", "wall"), PARSED)
def test_parses(text: str, wall: datetime) -> None:
    result = parse_when(text, NOW)
    assert isinstance(result, datetime), result
    assert result.tzinfo is MOSCOW
    assert result.replace(tzinfo=None) == wall


@pytest.mark.parametrize(("text", "wall"), AS_REPS_TYPE)
def test_parses_as_reps_type(text: str, wall: datetime) -> None:
    result = parse_when(text, NOW)
    assert isinstance(result, datetime), result
    assert result.tzinfo is MOSCOW
    assert result.replace(tzinfo=None) == wall


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
