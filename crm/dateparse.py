"""Typed "when to call back" text → aware datetime, Russian and English.

Why not dateparser 1.5.0 (tried: ru+en, DATE_ORDER=DMY, PREFER_DATES_FROM=future): it returns
None for "+30м", "+1д", "в понедельник утром"; reads "пт 10", "в пятницу в 10", "в 15" as the
10th/15th of the month; drops the hour of "послезавтра в 9" and "day after tomorrow 9"; keeps
now's clock for a bare "завтра"; takes "на следующей неделе" as +7 days, not Monday.

Grammar: the text is lower-cased, ё→е, commas become spaces, trailing punctuation goes. Then either
the whole text is a duration ("через 2 часа", "+30м", "in a week"), or it splits into a day phrase
and a time phrase, in either order ("завтра 15:00", "3pm tomorrow"), each matched in full against
its own table of patterns below.

Semantics, `now` being the rep's current time:
- Minutes and hours are elapsed time ("+2ч" across a DST change is still 120 minutes); days and
  weeks are calendar days at the same wall clock time ("+1д" at 14:20 → tomorrow 14:20).
- A day without a time → DEFAULT_TIME (10:00); утром/днем/вечером → MORNING/AFTERNOON/EVENING.
- A time without a day → today, or tomorrow if that moment is not after `now`. A bare number
  ("15") needs a day ("пт 10") or a particle ("в 15", "at 3") to be read as an hour.
- Hours are the 24-hour clock: "в 5" is 05:00. Only am/pm, утра/ночи or дня/вечера turn a
  12-hour reading on ("в 5 вечера" → 17:00, "в 12 ночи" → 00:00).
- A weekday → its next occurrence: today if that time is still ahead, else a week on.
  "next friday" / "в следующую пятницу" is never today. "на следующей неделе" / "next week"
  → Monday of next week.
- Numeric dates are day first. Dotted "25.12" is always day.month (the Russian way); slashed
  "25/12" is day/month too, as in Europe, so US-style "12/25" fails with "invalid_date".
  A dotted pair that can be a date is one: "14.10" is 14 October, "15.00" and "10.30" are times.
  Without a year a date already gone this year means next year.
- Explicit "сегодня"/"today", "завтра" and dates with a year are taken literally, so a moment
  that has already passed fails with "past" rather than being moved.
- Wall times are built naive in now's zone; one that does not exist (spring-forward gap) moves
  forward by the gap, an ambiguous one (fall-back) takes the first, summer-time, occurrence.
- Nothing more than MAX_AHEAD after `now` ("too_far"); a zero duration is "zero_duration".
  Every successful result is strictly after `now` and carries now's tzinfo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, NamedTuple

DEFAULT_TIME = time(10, 0)
MORNING = time(10, 0)
AFTERNOON = time(14, 0)
EVENING = time(18, 0)
NOON = time(12, 0)
MAX_AHEAD = timedelta(days=2 * 366)  # two years, with slack for a leap day
_MAX_TEXT = 100  # longer input is not a date; also bounds the split loop below

EXAMPLES: dict[str, str] = {
    "ru": "завтра 15:00, через 2 часа, пт 10, 25.12 14:30",
    "en": "tomorrow 3pm, in 3 days, next monday 10:00",
}

Reason = Literal[
    "empty", "unrecognized", "invalid_date", "invalid_time", "past", "too_far", "zero_duration"
]


@dataclass(frozen=True)
class ParseFailure:
    reason: Reason


class _Day(NamedTuple):
    day: date
    # Days to move on when the time on `day` is not after now; None: the rep meant this very day.
    roll: int | None


class _Clock(NamedTuple):
    at: time
    bare: bool  # a lone number: an hour only next to a day phrase


def _alt(words: Iterable[str]) -> str:
    # Escaped because "a.m." has dots; longest first so the first alternative tried is the
    # whole word rather than a prefix the engine must back out of.
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_WEEKDAYS: dict[str, int] = {
    **dict.fromkeys(("понедельник", "пн", "monday", "mon"), 0),
    **dict.fromkeys(("вторник", "вт", "tuesday", "tue", "tues"), 1),
    **dict.fromkeys(("среда", "среду", "ср", "wednesday", "wed"), 2),
    **dict.fromkeys(("четверг", "чт", "thursday", "thu", "thur", "thurs"), 3),
    **dict.fromkeys(("пятница", "пятницу", "пт", "friday", "fri"), 4),
    **dict.fromkeys(("суббота", "субботу", "сб", "saturday", "sat"), 5),
    **dict.fromkeys(("воскресенье", "вс", "sunday", "sun"), 6),
}
_WD = f"(?P<wd>{_alt(_WEEKDAYS)})"

_NUMBER_WORDS: dict[str, int] = {
    **dict.fromkeys(("a", "an", "one", "один", "одну", "одна"), 1),
    **dict.fromkeys(("two", "два", "две", "пару", "пара"), 2),
    **dict.fromkeys(("three", "три"), 3),
    **dict.fromkeys(("four", "четыре"), 4),
    **dict.fromkeys(("five", "пять"), 5),
    **dict.fromkeys(("ten", "десять"), 10),
}

# Elapsed-time units, in minutes.
_CLOCK_UNITS: dict[str, int] = {
    **dict.fromkeys(("м", "мин", "минуту", "минуты", "минут", "m", "min", "mins", "minute",
                     "minutes"), 1),
    **dict.fromkeys(("ч", "час", "часа", "часов", "h", "hr", "hrs", "hour", "hours"), 60),
}
# Calendar units, in days: they keep the wall clock time across a DST change.
_CALENDAR_UNITS: dict[str, int] = {
    **dict.fromkeys(("д", "дн", "день", "дня", "дней", "d", "day", "days"), 1),
    **dict.fromkeys(("нед", "неделю", "недели", "недель", "w", "wk", "week", "weeks"), 7),
}

_N = rf"(?P<n>[0-9]{{1,9}}|{_alt(_NUMBER_WORDS)})"
_UNIT = f"(?P<unit>{_alt([*_CLOCK_UNITS, *_CALENDAR_UNITS])})"

# Durations match the whole text; a missing count means one ("через час", "in a week").
_DURATIONS: tuple[re.Pattern[str], ...] = (
    re.compile(rf"(?:через|in) (?:{_N} ?)?{_UNIT}"),
    re.compile(rf"\+ ?{_N} ?{_UNIT}"),
    re.compile(r"(?:через|in) (?P<half>пол ?часа|half an hour)"),
)


def _localize(wall: datetime, zone: tzinfo) -> datetime:
    # The UTC round trip is what normalizes a wall time that falls into a DST gap.
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _is_after(moment: datetime, now: datetime) -> bool:
    # Aware datetimes sharing a tzinfo compare by wall time; UTC compares real instants.
    return moment.astimezone(UTC) > now.astimezone(UTC)


def _duration(m: re.Match[str], now: datetime, zone: tzinfo) -> datetime | ParseFailure:
    if m.groupdict().get("half"):
        count, unit = 30, "m"
    else:
        n, unit = m["n"], m["unit"]
        count = 1 if n is None else _NUMBER_WORDS.get(n) or int(n)
    if count == 0:
        return ParseFailure("zero_duration")
    if unit in _CALENDAR_UNITS:
        days = count * _CALENDAR_UNITS[unit]
        if days > MAX_AHEAD.days:
            return ParseFailure("too_far")
        return _localize(now.replace(tzinfo=None) + timedelta(days=days), zone)
    minutes = timedelta(minutes=count * _CLOCK_UNITS[unit])
    if minutes > MAX_AHEAD:
        return ParseFailure("too_far")
    return (now.astimezone(UTC) + minutes).astimezone(zone)


def _weekday_from(today: date, weekday: int, earliest: int) -> date:
    return today + timedelta(days=(weekday - today.weekday() - earliest) % 7 + earliest)


def _numeric_date(m: re.Match[str], today: date) -> _Day | ParseFailure:
    day, month, year = int(m["d"]), int(m["m"]), m["y"]
    if year is not None:
        full_year = int(year) + (2000 if len(year) == 2 else 0)
        try:
            return _Day(date(full_year, month, day), None)
        except ValueError:
            return ParseFailure("invalid_date")
    try:
        date(2000, month, day)  # a leap year: accepts every day.month that ever exists
    except ValueError:
        return ParseFailure("invalid_date")
    # The next year holding this day.month from today on; at most 8 steps, for 29.02.
    candidate_year = today.year
    while True:
        try:
            found = date(candidate_year, month, day)
        except ValueError:
            found = None
        if found is not None and found >= today:
            return _Day(found, None)
        candidate_year += 1


_DayBuilder = Callable[[re.Match[str], date], _Day | ParseFailure]

_DAY_PATTERNS: tuple[tuple[re.Pattern[str], _DayBuilder], ...] = (
    (re.compile(r"сегодня|today"), lambda m, t: _Day(t, None)),
    (re.compile(r"завтра|tomorrow"), lambda m, t: _Day(t + timedelta(days=1), None)),
    (
        re.compile(r"послезавтра|(?:the )?day after tomorrow"),
        lambda m, t: _Day(t + timedelta(days=2), None),
    ),
    (
        re.compile(rf"(?:(?:в|во|on|this) )?{_WD}"),
        lambda m, t: _Day(_weekday_from(t, _WEEKDAYS[m["wd"]], 0), 7),
    ),
    (
        re.compile(rf"(?:во? следующ(?:ий|ую|ее) |(?:on )?next ){_WD}"),
        lambda m, t: _Day(_weekday_from(t, _WEEKDAYS[m["wd"]], 1), None),
    ),
    (
        re.compile(r"на следующей неделе|next week"),
        lambda m, t: _Day(_weekday_from(t, 0, 1), None),
    ),
    (
        re.compile(r"(?:(?:на|on) )?(?P<d>[0-9]{1,2})[./](?P<m>[0-9]{1,2})"
                   r"(?:[./](?P<y>[0-9]{4}|[0-9]{2}))?"),
        _numeric_date,
    ),
)

# Meridiem words → is it the afternoon half.
_MERIDIEM: dict[str, bool] = {
    **dict.fromkeys(("am", "a.m", "a.m.", "утра", "ночи"), False),
    **dict.fromkeys(("pm", "p.m", "p.m.", "дня", "вечера"), True),
}

_HOUR_MINUTE = re.compile(
    r"(?P<particle>(?:в|во|к|at|by) )?(?P<h>[0-9]{1,2})(?:[:.](?P<min>[0-9]{2}))?"
    r"(?: ?(?P<word>ч|час|часа|часов))?"
    rf"(?: ?(?P<mer>{_alt(_MERIDIEM)}))?"
)


def _hour_minute(m: re.Match[str]) -> _Clock | ParseFailure:
    hour, minute, mer = int(m["h"]), int(m["min"] or 0), m["mer"]
    if mer is not None and not _MERIDIEM[mer]:
        if not 1 <= hour <= 12:
            return ParseFailure("invalid_time")
        hour %= 12
    elif mer is not None:
        # "в 15 дня" is redundant but clear; only 0 has no afternoon reading.
        if hour == 0:
            return ParseFailure("invalid_time")
        if hour < 12:
            hour += 12
    if hour > 23 or minute > 59:
        return ParseFailure("invalid_time")
    bare = not (m["particle"] or m["min"] or m["word"] or mer)
    return _Clock(time(hour, minute), bare)


_TimeBuilder = Callable[[re.Match[str]], _Clock | ParseFailure]


def _named(at: time) -> _TimeBuilder:
    return lambda m: _Clock(at, False)


_TIME_PATTERNS: tuple[tuple[re.Pattern[str], _TimeBuilder], ...] = (
    (_HOUR_MINUTE, _hour_minute),
    (re.compile(r"утром|(?:in the )?morning"), _named(MORNING)),
    (re.compile(r"днем|(?:in the )?afternoon"), _named(AFTERNOON)),
    (re.compile(r"вечером|(?:in the )?evening|tonight"), _named(EVENING)),
    (re.compile(r"(?:в )?полдень|(?:at )?(?:noon|midday)"), _named(NOON)),
)


def _match_day(text: str, today: date) -> _Day | ParseFailure | None:
    for pattern, build in _DAY_PATTERNS:
        if m := pattern.fullmatch(text):
            return build(m, today)
    return None


def _match_time(text: str) -> _Clock | ParseFailure | None:
    for pattern, build in _TIME_PATTERNS:
        if m := pattern.fullmatch(text):
            return build(m)
    return None


def _resolve(
    day: _Day | None, clock: _Clock | None, now: datetime, zone: tzinfo
) -> datetime | ParseFailure:
    today = now.date()
    if day is None:
        day = _Day(today, 1)
    at = DEFAULT_TIME if clock is None else clock.at
    # Checked on dates before building, so that years 1 and 9999 cannot overflow.
    if day.day < today:
        return ParseFailure("past")
    if day.day - today > MAX_AHEAD:
        return ParseFailure("too_far")
    result = _localize(datetime.combine(day.day, at), zone)
    if not _is_after(result, now):
        if day.roll is None:
            return ParseFailure("past")
        result = _localize(datetime.combine(day.day + timedelta(days=day.roll), at), zone)
    if _is_after(result, now + MAX_AHEAD):
        return ParseFailure("too_far")
    return result


def _normalize(text: str) -> str:
    text = text.lower().replace("ё", "е").replace(",", " ")
    return " ".join(text.split()).rstrip(".!?;: ")


def parse_when(text: str, now: datetime) -> datetime | ParseFailure:
    """Read a rep's "when" against `now` (aware, rep's zone); see the module doc for the rules."""
    zone = now.tzinfo
    if zone is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    norm = _normalize(text)
    if not norm:
        return ParseFailure("empty")
    if len(norm) > _MAX_TEXT:
        return ParseFailure("unrecognized")
    for pattern in _DURATIONS:
        if m := pattern.fullmatch(norm):
            return _duration(m, now, zone)

    # Every split into a day phrase and a time phrase, day-first readings first, so that a
    # dotted pair that is a valid date wins over the same digits read as a time.
    tokens = norm.split(" ")
    splits = [(" ".join(tokens[:k]), " ".join(tokens[k:])) for k in range(len(tokens), -1, -1)]
    splits += [(" ".join(tokens[k:]), " ".join(tokens[:k])) for k in range(1, len(tokens))]
    first_failure: ParseFailure | None = None
    for day_text, time_text in splits:
        day = _match_day(day_text, now.date()) if day_text else None
        clock = _match_time(time_text) if time_text else None
        if (day_text and day is None) or (time_text and clock is None):
            continue
        if isinstance(clock, _Clock) and clock.bare and day is None:
            continue
        if isinstance(day, ParseFailure):
            outcome: datetime | ParseFailure = day
        elif isinstance(clock, ParseFailure):
            outcome = clock
        else:
            outcome = _resolve(day, clock, now, zone)
        if isinstance(outcome, datetime):
            return outcome
        first_failure = first_failure or outcome
    return first_failure or ParseFailure("unrecognized")
