"""Time comes in through a Clock so tests can run the ladder in milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


class ScaledClock:
    """Real time from `start` on, `speed` times faster (the demo's fast clock: at 60 the
    ladder's minutes pass as seconds). A change of speed keeps the time reached: it never jumps
    or goes back."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be above 0")
        self._base = (start or datetime.now(UTC)).astimezone(UTC)
        self._since = time.monotonic()
        self._speed = speed

    def now(self) -> datetime:
        return self._base + timedelta(seconds=(time.monotonic() - self._since) * self._speed)

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError("speed must be above 0")
        self._base, self._since, self._speed = self.now(), time.monotonic(), value
