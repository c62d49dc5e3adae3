"""Snapping next-contact times into working hours, holidays and the client's call window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.playbook import ClientWindow, WorkingHours

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
