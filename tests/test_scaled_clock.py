"""ScaledClock, the demo's fast clock: N times faster, and a change of speed never jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm import clock as clock_module
from crm.clock import ScaledClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    fake = Monotonic()
    monkeypatch.setattr(clock_module.time, "monotonic", fake)
    return fake


def test_runs_speed_times_faster_and_a_new_speed_keeps_the_time(monotonic: Monotonic) -> None:
    clock = ScaledClock(T0, speed=60)
    monotonic.value += 5  # the ladder's first step, 5 minutes, in 5 seconds
    assert clock.now() == T0 + timedelta(minutes=5)
    clock.speed = 1
    assert clock.now() == T0 + timedelta(minutes=5)
    monotonic.value += 2
    assert clock.now() == T0 + timedelta(minutes=5, seconds=2)


def test_speed_must_be_positive(monotonic: Monotonic) -> None:
    with pytest.raises(ValueError, match="above 0"):
        ScaledClock(T0, speed=0)
    clock = ScaledClock(T0)
    with pytest.raises(ValueError, match="above 0"):
        clock.speed = -1
    assert clock.now() == T0
