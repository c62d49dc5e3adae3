"""Typed "when to call back" text → aware datetime, Russian and English.

Why not dateparser 1.5.0 (tried: ru+en, DATE_ORDER=DMY, PREFER_DATES_FROM=future): it returns
None for "+30м", "+1д", "в понедельник утром"; reads "пт 10", "в пятницу в 10", "в 15" as the
10th/15th of the month; drops the hour of "послезавтра в 9" and "day after tomorrow 9"; keeps
now's clock for a bare "завтра"; takes "на следующей неделе" as +7 days, not Monday.

Grammar: the text is lower-cased, ё→е, a decimal comma becomes a point ("2,5"), other commas
become spaces, the dot after a letter goes ("дек.", "p.m."), trailing punctuation goes. Then
either the whole text is a duration ("через 2,5 часа", "+30м", "in a week", "через 1 час 30
минут"), or it splits into a day phrase and a time phrase, in either order ("завтра 15:00",
"3pm tomorrow"), each matched in full against its own table of patterns below. The words
(weekdays in every case, months, parts of the day) are in crm.datewords.

Semantics, `now` being the rep's current time:
- Minutes and hours are elapsed time ("+2ч" across a DST change is still 120 minutes); whole days
  and weeks are calendar days at the same wall clock time ("+1д" at 14:20 → tomorrow 14:20); a
  fraction of a day or week is elapsed time.
- A day without a time → DEFAULT_TIME (10:00); parts of the day by name → crm.datewords.
- A time without a day → today, or tomorrow if that moment is not after `now`. A bare number
  ("15") needs a day ("пт 10") or a particle ("в 15", "at 3") to be read as an hour.
- Hours are the 24-hour clock: "в 5" is 05:00. Only am/pm, утра/ночи or дня/вечера turn a
  12-hour reading on ("в 5 вечера" → 17:00, "в 12 ночи" → 00:00).
- A weekday → its next occurrence: today if that time is still ahead, else a week on.
  "next friday" / "в следующую пятницу" is never today. "на следующей неделе" / "next week"
  → Monday of next week; "в среду на следующей неделе" → that week's Wednesday.
- Numeric dates are day first. Dotted "25.12" is always day.month (the Russian way); slashed
  "25/12" is day/month too, as in Europe, so US-style "12/25" fails with "invalid_date".
  A dotted pair that can be a date is one: "14.10" is 14 October, "15.00" and "10.30" are times.
  Month names: "3 января", "5 дек", "Dec 5", "December 5th", "5th of December".
- A date without a year that is gone this year is not moved a year on silently: it fails with
  "next_year" and suggests that date in the next year it exists, for the rep to confirm.
- Explicit "сегодня"/"today", "завтра" and dates are taken literally, so a moment that has
  already passed fails with "past"; on today's date it suggests the nearest sensible time: the
  afternoon reading of a small hour if still ahead ("сегодня в 5" at 14:20 → 17:00), else the
  same time tomorrow.
- Wall times are built naive in now's zone; one that does not exist (spring-forward gap) moves
  forward by the gap, an ambiguous one (fall-back) takes the first, summer-time, occurrence.
- Nothing more than MAX_AHEAD after `now` ("too_far"); a zero duration is "zero_duration".
  Every successful result and every suggestion is strictly after `now` and has now's tzinfo.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, NamedTuple

from crm.datewords import (
    CALENDAR_UNITS,
    CLOCK_UNITS,
    DAY_AFTER,
    DEFAULT_TIME,
    MERIDIEM,
    MONTHS,
    NAMED_TIMES,
    NEXT_WEEK,
    NUMBER_WORDS,
    TODAY,
    TOMORROW,
    WEEKDAYS,
    alt,
)

MAX_AHEAD = timedelta(days=2 * 366)  # two years, with slack for a leap day
_MAX_TEXT = 100  # longer input is not a date; also bounds the split loop below

EXAMPLES: dict[str, str] = {
    "ru": "завтра 15:00, через 2 часа, пт 10, 25.12 14:30",
    "en": "tomorrow 3pm, in 3 days, next monday 10:00",
}

Reason = Literal[
    "empty", "unrecognized", "invalid_date", "invalid_time", "past", "next_year", "too_far",
    "zero_duration",
]


@dataclass(frozen=True)
class ParseFailure:
    reason: Reason
    # What the rep most likely meant, to offer for one tap ("past", "next_year"); else None.
    suggestion: datetime | None = None


class _Day(NamedTuple):
    day: date
    # Days to move on when the time on `day` is not after now; None: the rep meant this very day.
    roll: int | None
    guessed_year: bool = False  # a date without a year that is gone this year


class _Clock(NamedTuple):
    at: time
    bare: bool  # a lone number: an hour only next to a day phrase
    could_be_pm: bool = False  # 1..8 without am/pm: "в 5" might have meant 17:00


_WD = f"(?P<wd>{alt(WEEKDAYS)})"
_MON = f"(?P<mon>{alt(MONTHS)})"
_NEXT_WEEK = f"(?:{alt(NEXT_WEEK)})"
_N = rf"(?P<n>[0-9]{{1,9}}(?:\.[0-9]{{1,3}})?|{alt(NUMBER_WORDS)})"
_UNIT = f"(?P<unit>{alt([*CLOCK_UNITS, *CALENDAR_UNITS])})"
_HOURS = alt(u for u, m in CLOCK_UNITS.items() if m == 60)
_MINUTES = alt(u for u, m in CLOCK_UNITS.items() if m == 1)
_IN = r"(?:через|in|after|\+)"

# Durations match the whole text; a missing count means one ("через час", "in a week").
_DURATIONS: tuple[re.Pattern[str], ...] = (
    re.compile(rf"{_IN} ?(?:{_N} ?)?{_UNIT}"),
    re.compile(
        rf"{_IN} ?(?:{_N} ?)?(?:{_HOURS}) ?(?:и |and )?(?P<extra>[0-9]{{1,2}}) ?(?:{_MINUTES})"
    ),
    re.compile(r"(?:через|in) (?P<half>пол ?часа|half an hour|(?:an |one )?hour and a half"
               r"|час с половиной)"),
)
_HALF_HOUR = ("полчаса", "пол часа", "half an hour")


def _localize(wall: datetime, zone: tzinfo) -> datetime:
    # The UTC round trip is what normalizes a wall time that falls into a DST gap.
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _is_after(moment: datetime, now: datetime) -> bool:
    # Aware datetimes sharing a tzinfo compare by wall time; UTC compares real instants.
    return moment.astimezone(UTC) > now.astimezone(UTC)


def _count(n: str | None) -> float:
    if n is None:
        return 1
    return NUMBER_WORDS[n] if n in NUMBER_WORDS else float(n)


def _duration(m: re.Match[str], now: datetime, zone: tzinfo) -> datetime | ParseFailure:
    groups = m.groupdict()
    if groups.get("half"):
        minutes = 30 if groups["half"] in _HALF_HOUR else 90
    elif "extra" in groups:
        minutes = round(_count(groups["n"]) * 60) + int(groups["extra"])
    elif (unit := groups["unit"]) in CALENDAR_UNITS:
        days = _count(groups["n"]) * CALENDAR_UNITS[unit]
        if days > MAX_AHEAD.days:
            return ParseFailure("too_far")
        if days == int(days) and days:
            return _localize(now.replace(tzinfo=None) + timedelta(days=days), zone)
        minutes = round(days * 24 * 60)
    else:
        minutes = round(_count(groups["n"]) * CLOCK_UNITS[unit])
    if minutes == 0:
        return ParseFailure("zero_duration")
    elapsed = timedelta(minutes=minutes)
    if elapsed > MAX_AHEAD:
        return ParseFailure("too_far")
    return (now.astimezone(UTC) + elapsed).astimezone(zone)


def _weekday_from(today: date, weekday: int, earliest: int) -> date:
    return today + timedelta(days=(weekday - today.weekday() - earliest) % 7 + earliest)


def _calendar_date(day: int, month: int, year: str | None, today: date) -> _Day | ParseFailure:
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
            return _Day(found, None, guessed_year=found.year != today.year)
        candidate_year += 1


def _numeric_date(m: re.Match[str], today: date) -> _Day | ParseFailure:
    return _calendar_date(int(m["d"]), int(m["m"]), m["y"], today)


def _month_date(m: re.Match[str], today: date) -> _Day | ParseFailure:
    found = _calendar_date(int(m["d"]), MONTHS[m["mon"]], m["y"], today)
    if isinstance(found, _Day) and m["aside"] and WEEKDAYS[m["aside"]] != found.day.weekday():
        return ParseFailure("invalid_date")
    return found


def _days_on(m: re.Match[str], today: date) -> _Day | ParseFailure:
    """"через 2 дня" before a time: a day, so only whole days ("через 1,5 дня в 15" is not)."""
    days = _count(m["n"]) * CALENDAR_UNITS[m["unit"]]
    if days != int(days):
        return ParseFailure("unrecognized")
    if days > MAX_AHEAD.days:  # checked before adding: a date past year 9999 cannot be built
        return ParseFailure("too_far")
    return _Day(today + timedelta(days=int(days)), None)


_DayBuilder = Callable[[re.Match[str], date], _Day | ParseFailure]
_ON = r"(?:(?:в|во|на|к|ко|до|с|on|this|by|until|for) )?"
_FOR = r"(?:(?:на|for) )?"
# A weekday named beside a date ("сб 5 декабря", "Saturday 5th December") must be that date's.
_ASIDE = f"(?:(?P<aside>{alt(WEEKDAYS)}) )?"
_DAY_NUMBER = r"(?P<d>[0-9]{1,2})(?:st|nd|rd|th|-?го|-?е|-?ое)?"
_YEAR = r"(?: (?P<y>[0-9]{4})(?: ?г| года| году| year)?)?"


def _fixed(days: int) -> _DayBuilder:
    return lambda m, t: _Day(t + timedelta(days=days), None)


_DAY_PATTERNS: tuple[tuple[re.Pattern[str], _DayBuilder], ...] = (
    (re.compile(f"{_FOR}(?:{alt(TODAY)})"), _fixed(0)),
    (re.compile(f"{_FOR}(?:{alt(TOMORROW)})"), _fixed(1)),
    (re.compile(f"{_FOR}(?:{alt(DAY_AFTER)})"), _fixed(2)),
    (
        re.compile(rf"{_ON}(?:эт(?:от|у|о) |ближайш(?:ий|ую|ее) |coming )?{_WD}"),
        lambda m, t: _Day(_weekday_from(t, WEEKDAYS[m["wd"]], 0), 7),
    ),
    (
        re.compile(
            rf"(?:(?:в|во|на) )?(?:следующ(?:ий|ую|ее)|след) {_WD}"
            rf"|(?:on )?next (?P<wd2>{alt(WEEKDAYS)})"
        ),
        lambda m, t: _Day(_weekday_from(t, WEEKDAYS[m["wd"] or m["wd2"]], 1), None),
    ),
    (re.compile(_NEXT_WEEK), lambda m, t: _Day(_weekday_from(t, 0, 1), None)),
    (
        re.compile(rf"{_ON}{_WD} {_NEXT_WEEK}|{_NEXT_WEEK} {_ON}(?P<wd2>{alt(WEEKDAYS)})"),
        lambda m, t: _Day(
            _weekday_from(t, 0, 1) + timedelta(days=WEEKDAYS[m["wd"] or m["wd2"]]), None
        ),
    ),
    (re.compile(rf"(?:через|in) (?:{_N} )?(?P<unit>{alt(CALENDAR_UNITS)})"), _days_on),
    (
        re.compile(r"(?:(?:на|on) )?(?P<d>[0-9]{1,2})[./](?P<m>[0-9]{1,2})"
                   r"(?:[./](?P<y>[0-9]{4}|[0-9]{2}))?(?: ?г| года)?"),
        _numeric_date,
    ),
    (re.compile(rf"{_ON}{_ASIDE}(?:the )?{_DAY_NUMBER}(?: of)? {_MON}{_YEAR}"), _month_date),
    (re.compile(rf"{_ON}{_ASIDE}{_MON} (?:the )?{_DAY_NUMBER}{_YEAR}"), _month_date),
)

_HOUR_MINUTE = re.compile(
    r"(?P<particle>(?:в|во|к|на|около|после|at|by|around|about|after|for) )?"
    r"(?P<h>[0-9]{1,2})(?:[:.\-](?P<min>[0-9]{2}))?"
    r"(?: ?(?P<word>ч|час|часа|часов|o'clock|oclock))?"
    rf"(?: ?(?P<mer>{alt(MERIDIEM)}))?"
)


def _hour_minute(m: re.Match[str]) -> _Clock | ParseFailure:
    hour, minute, mer = int(m["h"]), int(m["min"] or 0), m["mer"]
    if mer is not None and not MERIDIEM[mer]:
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
    could_be_pm = mer is None and 1 <= hour <= 8 and not m["h"].startswith("0")
    return _Clock(time(hour, minute), bare, could_be_pm)


_NAMED = re.compile(f"(?P<named>{alt(NAMED_TIMES)})")


def _match_day(text: str, today: date) -> _Day | ParseFailure | None:
    for pattern, build in _DAY_PATTERNS:
        if m := pattern.fullmatch(text):
            return build(m, today)
    return None


def _match_time(text: str) -> _Clock | ParseFailure | None:
    if m := _HOUR_MINUTE.fullmatch(text):
        return _hour_minute(m)
    if m := _NAMED.fullmatch(text):
        return _Clock(NAMED_TIMES[m["named"]], False)
    return None


def _past(day: date, clock: _Clock | None, now: datetime, zone: tzinfo) -> ParseFailure:
    """A moment the rep named literally that has gone: today's suggests the nearest sensible."""
    if day != now.date():
        return ParseFailure("past")
    at = DEFAULT_TIME if clock is None else clock.at
    if clock is not None and clock.could_be_pm:
        later = _localize(datetime.combine(day, at.replace(hour=at.hour + 12)), zone)
        if _is_after(later, now):
            return ParseFailure("past", later)
    return ParseFailure("past", _localize(datetime.combine(day + timedelta(days=1), at), zone))


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
            return _past(day.day, clock, now, zone)
        result = _localize(datetime.combine(day.day + timedelta(days=day.roll), at), zone)
    if _is_after(result, now + MAX_AHEAD):
        return ParseFailure("too_far")
    if day.guessed_year:
        return ParseFailure("next_year", result)
    return result


_DECIMAL_COMMA = re.compile(r"(?<=[0-9]),(?=[0-9])")
_LETTER_DOT = re.compile(r"(?<=[a-zа-я])\.")


def _normalize(text: str) -> str:
    text = _DECIMAL_COMMA.sub(".", text.lower().replace("ё", "е"))
    text = _LETTER_DOT.sub("", text.replace(",", " "))
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
        # A date gone this year is a reading, to confirm: it wins over those digits as a time.
        if isinstance(outcome, datetime) or outcome.reason == "next_year":
            return outcome
        first_failure = first_failure or outcome
    return first_failure or ParseFailure("unrecognized")
