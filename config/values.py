"""The values a playbook is written in: strict frozen models, labels in both languages, keys,
durations (5m, 3h, 1d) and clock times (09:00)."""

from __future__ import annotations

import re
from datetime import time, timedelta

from pydantic import BaseModel, ConfigDict, Field

_DURATION_RE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
KEY = r"^[a-z][a-z0-9_]{0,31}$"


def parse_duration(text: str) -> timedelta:
    match = _DURATION_RE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 5m, 3h, 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_hhmm(text: str) -> time:
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{text!r} is not a time like 09:00") from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(Strict):
    ru: str = Field(min_length=1, max_length=64)
    en: str = Field(min_length=1, max_length=64)

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.ru


class LongText(Strict):
    ru: str = Field(min_length=1, max_length=1000)
    en: str = Field(min_length=1, max_length=1000)

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.ru
