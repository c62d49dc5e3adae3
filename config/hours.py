"""When a team works (its working hours, days off) and when its clients may be called."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from pydantic import field_validator, model_validator

from config.settings import known_zone
from config.values import Strict, parse_hhmm

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WorkingHours(Strict):
    timezone: str = "Europe/Moscow"
    days: dict[int, tuple[time, time]]
    holidays: frozenset[date] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _collect_days(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        if "days" in data and not any(name in data for name in WEEKDAYS):
            return data  # already collected: a dumped playbook validated again (refresh_pipeline)
        data = dict(data)
        days: dict[int, tuple[time, time]] = {}
        for index, name in enumerate(WEEKDAYS):
            span = data.pop(name, None)
            if span is None:
                continue
            if not isinstance(span, str) or "-" not in span:
                raise ValueError(f"{name}: {span!r} is not a span like 09:00-18:00")
            start, end = (parse_hhmm(part) for part in span.split("-", 1))
            if start >= end:
                raise ValueError(f"{name}: the day must end after it starts")
            days[index] = (start, end)
        if not days:
            raise ValueError("no working day: set at least one of mon..sun = '09:00-18:00'")
        data["days"] = days
        return data

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class ClientWindow(Strict):
    start: time = time(9)
    end: time = time(21)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        return parse_hhmm(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _order(self) -> ClientWindow:
        if self.start >= self.end:
            raise ValueError("the window must end after it starts")
        return self
