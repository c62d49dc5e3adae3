"""Snapping next-contact times into working hours, holidays and the client's call window.

Two rules: `snap` is the earliest allowed instant from a moment on (the slot keyboard's hours);
`place` is where a chosen time goes, and why: the same hour of the next working day when that
hour is allowed there, else the earliest allowed instant after it. The engine places every due
time with `place`, and the bot shows the rep the move before pressing, so nothing moves unsaid.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from config.hours import ClientWindow, WorkingHours

# Two weeks covers any sane holiday run; past that the playbook has no working day at all.
_HORIZON_DAYS = 15


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def into_working_hours(moment: datetime, hours: WorkingHours) -> datetime:
    """The earliest instant >= moment inside a working day's hours (department zone)."""
    zone = hours.zone
    local = moment.astimezone(zone)
    for offset in range(_HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        span = hours.days.get(day.weekday())
        if span is None or day in hours.holidays:
            continue
        start, end = _at(day, span[0], zone), _at(day, span[1], zone)
        if moment < start:
            return start
        if moment < end:
            return moment
    return moment


def add_working_time(start: datetime, amount: timedelta, hours: WorkingHours) -> datetime:
    """The instant when `amount` of working time (department hours, holidays skipped) has
    passed since `start`: 15 minutes from 18:55 on a Friday end at 09:10 on Monday."""
    zone = hours.zone
    cursor = start
    day = start.astimezone(zone).date()
    # A week of working time spans at most a few weeks of calendar days, holidays included.
    for _ in range(amount.days * 7 + 8 * _HORIZON_DAYS):
        span = hours.days.get(day.weekday())
        if span is not None and day not in hours.holidays:
            begin, end = _at(day, span[0], zone), _at(day, span[1], zone)
            cursor = max(cursor, begin)
            if cursor < end:
                if cursor + amount <= end:
                    return cursor + amount
                amount -= end - cursor
                cursor = end
        day += timedelta(days=1)
    return cursor + amount


def into_client_window(moment: datetime, window: ClientWindow, zone: ZoneInfo) -> datetime:
    """The earliest instant >= moment inside the client's daily call window (his zone)."""
    local = moment.astimezone(zone)
    for offset in range(2):
        day = local.date() + timedelta(days=offset)
        start, end = _at(day, window.start, zone), _at(day, window.end, zone)
        if moment < start:
            return start
        if moment < end:
            return moment
    return moment


def snap(
    moment: datetime, hours: WorkingHours, window: ClientWindow, client_zone: ZoneInfo | None
) -> datetime:
    """Move moment forward until both the department and the client can take the call.

    If the two never overlap (a client twelve hours away and a short working day), the
    department's hours win: a rep can't call outside them, a client can still answer at 8:00.
    """
    snapped = into_working_hours(moment, hours)
    if client_zone is None:
        return snapped
    candidate = snapped
    for _ in range(2 * _HORIZON_DAYS):
        moved = into_working_hours(into_client_window(candidate, window, client_zone), hours)
        if moved == candidate:
            return candidate
        candidate = moved
    return snapped


MoveReason = Literal["holiday", "off_hours", "client_night"]


class Placed(NamedTuple):
    at: datetime
    reason: MoveReason | None  # None: the moment was allowed and stays
    client_zone: ZoneInfo | None = None  # whose night "client_night" means


def _working_span(day: date, hours: WorkingHours) -> tuple[time, time] | None:
    return None if day in hours.holidays else hours.days.get(day.weekday())


def _why_not(
    moment: datetime, hours: WorkingHours, window: ClientWindow, client_zone: ZoneInfo | None
) -> MoveReason | None:
    local = moment.astimezone(hours.zone)
    if local.date() in hours.holidays:
        return "holiday"
    span = hours.days.get(local.date().weekday())
    if span is None or not _at(local.date(), span[0], hours.zone) <= moment < _at(
        local.date(), span[1], hours.zone
    ):
        return "off_hours"
    if client_zone is not None:
        theirs = moment.astimezone(client_zone)
        if not window.start <= theirs.time() < window.end:
            return "client_night"
    return None


def place(
    moment: datetime, hours: WorkingHours, window: ClientWindow, client_zone: ZoneInfo | None
) -> Placed:
    """Where a chosen time goes and why it moved (None: it stays)."""
    reason = _why_not(moment, hours, window, client_zone)
    if reason is None:
        return Placed(moment, None, client_zone)
    # The rep chose an hour: keep it on the next working day if it is allowed there.
    local = moment.astimezone(hours.zone)
    for offset in range(1, _HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        if _working_span(day, hours) is None:
            continue
        same_hour = _at(day, local.time(), hours.zone)
        if _why_not(same_hour, hours, window, client_zone) is None:
            return Placed(same_hour, reason, client_zone)
        break
    return Placed(snap(moment, hours, window, client_zone), reason, client_zone)
