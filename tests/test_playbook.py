"""The playbook file: the default reproduces the spec; a broken file names file, line and key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.playbook import DEFAULT_PLAYBOOK, PlaybookError, load_playbook
from crm.phones import normalize_phone, zone_for_phone
from crm.schedule import add_working_time, place, snap

MSK = ZoneInfo("Europe/Moscow")


def test_default_playbook_is_the_article_pipeline() -> None:
    pb = load_playbook()
    assert [s.key for s in pb.stages] == [
        "new",
        "in_progress",
        "invoice_sent",
        "paid",
        "refused",
        "archive",
    ]
    assert [pb.stage(k).terminal for k in ("paid", "refused", "archive")] == [
        "won",
        "lost",
        "archive",
    ]
    labels = [pb.buttons[b].label.en for b in pb.stage("new").buttons]
    assert labels == ["No answer", "Call back", "Invoice sent", "Paid", "Refused", "Note"]
    assert [pb.buttons[b].label.en for b in pb.buttons["no_answer"].submenu] == [
        "Busy",
        "Unavailable",
        "No pickup",
    ]
    assert pb.ladders["no_answer"].steps == (
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=3),
        timedelta(days=1),
    )
    assert pb.ladders["no_answer"].then == "archive"
    assert pb.buttons["refused"].reasons == ("price", "competitor", "no_need", "other")
    assert pb.buttons["invoice_sent"].hint is not None


def _broken(tmp_path: Path, old: str, new: str) -> str:
    text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "playbook.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    return str(err.value)


def _line_of(tmp_path: Path, needle: str) -> int:
    lines = (tmp_path / "playbook.toml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = _broken(tmp_path, 'key = "in_progress"', 'key = "in_progress')
    assert message.startswith(str(tmp_path / "playbook.toml"))
    line = _line_of(tmp_path, 'key = "in_progress')
    assert f"line {line}" in message


def test_unknown_ladder_names_key_and_line(tmp_path: Path) -> None:
    message = _broken(tmp_path, 'ladder = "no_answer"', 'ladder = "nope"')
    assert "buttons.busy" in message and "unknown ladder 'nope'" in message


def test_bad_duration_points_at_the_ladder_line(tmp_path: Path) -> None:
    message = _broken(tmp_path, 'steps = ["5m"', 'steps = ["5 minutes"')
    line = _line_of(tmp_path, "steps = ")
    assert f"playbook.toml:{line}: ladders.no_answer.steps" in message
    assert "not a duration" in message


def test_bad_colour_points_at_the_stage(tmp_path: Path) -> None:
    message = _broken(tmp_path, 'color = "#F2B134"', 'color = "yellow"')
    line = _line_of(tmp_path, 'color = "yellow"')
    assert f"playbook.toml:{line}: stages.1.color" in message


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    message = _broken(tmp_path, "reached = true\nhint", "reachd = true\nhint")
    assert "buttons.invoice_sent.reachd" in message and "Extra inputs" in message


def test_working_day_that_ends_before_it_starts(tmp_path: Path) -> None:
    message = _broken(tmp_path, 'mon = "09:00-19:00"', 'mon = "19:00-09:00"')
    assert "working_hours" in message and "mon" in message


def test_leads_team_and_escalation_default_and_are_checked(tmp_path: Path) -> None:
    assert (PB.leads.team, PB.leads.escalate_after) == ("main", timedelta(minutes=15))
    message = _broken(tmp_path, 'escalate_after = "15m"', 'escalate_after = "soon"')
    line = _line_of(tmp_path, "escalate_after = ")
    assert f"playbook.toml:{line}: leads.escalate_after" in message
    assert "not a duration" in message
    message = _broken(tmp_path, 'team = "main"', 'team = ""')
    assert f"playbook.toml:{_line_of(tmp_path, 'team = ')}: leads.team" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="cannot read"):
        load_playbook(tmp_path / "absent.toml")


# --- snapping ----------------------------------------------------------------------------

PB = load_playbook()


def _msk(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


@pytest.mark.parametrize(
    ("moment", "client_zone", "expected"),
    [
        (_msk(2026, 11, 25, 12, 0), None, _msk(2026, 11, 25, 12, 0)),  # inside hours
        (_msk(2026, 11, 25, 19, 2), None, _msk(2026, 11, 26, 9, 0)),  # after hours
        (_msk(2026, 11, 25, 7, 30), None, _msk(2026, 11, 25, 9, 0)),  # before hours
        (_msk(2026, 11, 28, 12, 0), None, _msk(2026, 11, 30, 9, 0)),  # Saturday → Monday
        (_msk(2026, 12, 31, 10, 0), None, _msk(2027, 1, 1, 9, 0)),  # holiday → next working day
        # Vladivostok is +7 h: 09:00 Moscow is 16:00 there, fine; 15:00 Moscow is 22:00 there.
        (_msk(2026, 11, 25, 15, 0), "Asia/Vladivostok", _msk(2026, 11, 26, 9, 0)),
        # Kaliningrad is −1 h: 09:00 Moscow is 08:00 there, before his window opens.
        (_msk(2026, 11, 25, 8, 0), "Europe/Kaliningrad", _msk(2026, 11, 25, 10, 0)),
    ],
)
def test_snap(moment: datetime, client_zone: str | None, expected: datetime) -> None:
    zone = ZoneInfo(client_zone) if client_zone else None
    got = snap(moment.astimezone(UTC), PB.working_hours, PB.client_window, zone)
    assert got == expected


@pytest.mark.parametrize(
    ("moment", "client_zone", "expected", "reason"),
    [
        (_msk(2026, 11, 25, 12, 0), None, _msk(2026, 11, 25, 12, 0), None),  # allowed: stays
        # Friday evening's "tomorrow 15:00": Saturday → the same hour on Monday, not 09:00.
        (_msk(2026, 11, 28, 15, 0), None, _msk(2026, 11, 30, 15, 0), "off_hours"),
        (_msk(2026, 12, 31, 15, 0), None, _msk(2027, 1, 1, 15, 0), "holiday"),
        # An hour never allowed (after 19:00): the earliest allowed instant after it.
        (_msk(2026, 11, 25, 22, 0), None, _msk(2026, 11, 26, 9, 0), "off_hours"),
        (_msk(2026, 11, 27, 20, 0), None, _msk(2026, 11, 30, 9, 0), "off_hours"),
        (_msk(2026, 11, 25, 7, 30), None, _msk(2026, 11, 25, 9, 0), "off_hours"),
        # 15:00 Moscow is 22:00 in Vladivostok every day: the earliest allowed time instead.
        (_msk(2026, 11, 25, 15, 0), "Asia/Vladivostok", _msk(2026, 11, 26, 9, 0), "client_night"),
        # Saturday 17:00 Moscow is 00:00 in Vladivostok too: working hours are named first, and
        # Monday 17:00 is his night as well, so Monday's earliest allowed hour.
        (_msk(2026, 11, 28, 17, 0), "Asia/Vladivostok", _msk(2026, 11, 30, 9, 0), "off_hours"),
        (_msk(2026, 11, 25, 9, 30), "Europe/Kaliningrad", _msk(2026, 11, 25, 10, 0),
         "client_night"),
    ],
)
def test_place(
    moment: datetime, client_zone: str | None, expected: datetime, reason: str | None
) -> None:
    zone = ZoneInfo(client_zone) if client_zone else None
    got = place(moment.astimezone(UTC), PB.working_hours, PB.client_window, zone)
    assert (got.at, got.reason) == (expected, reason)


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    # New York's window meets Moscow's working hours for two hours (17:00-19:00 Moscow).
    st.sampled_from([None, "Asia/Vladivostok", "Europe/Kaliningrad", "America/New_York"]),
)
def test_a_placed_time_is_allowed_and_never_earlier(moment: datetime, client: str | None) -> None:
    zone = ZoneInfo(client) if client else None
    asked = moment.replace(tzinfo=UTC)
    placed = place(asked, PB.working_hours, PB.client_window, zone)
    assert placed.at >= asked
    assert (placed.at == asked) == (placed.reason is None)
    again = place(placed.at, PB.working_hours, PB.client_window, zone)
    assert again == (placed.at, None, zone)


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        (_msk(2026, 11, 25, 12, 0), timedelta(minutes=15), _msk(2026, 11, 25, 12, 15)),
        # 10 minutes are left of Wednesday, 5 more on Thursday.
        (_msk(2026, 11, 25, 18, 50), timedelta(minutes=15), _msk(2026, 11, 26, 9, 5)),
        (_msk(2026, 11, 25, 22, 0), timedelta(minutes=15), _msk(2026, 11, 26, 9, 15)),
        # Friday evening to Monday morning.
        (_msk(2026, 11, 27, 18, 55), timedelta(minutes=15), _msk(2026, 11, 30, 9, 10)),
        # Ending exactly at the close of a day stays in that day.
        (_msk(2026, 11, 25, 18, 45), timedelta(minutes=15), _msk(2026, 11, 25, 19, 0)),
        # Over a holiday: Dec 31 is off (the playbook lists 2026 only, so Jan 1, 2027 is not).
        (_msk(2026, 12, 30, 18, 0), timedelta(hours=2), _msk(2027, 1, 1, 10, 0)),
        (_msk(2026, 11, 25, 9, 0), timedelta(days=1), _msk(2026, 11, 27, 13, 0)),  # 10 + 10 + 4 h
    ],
)
def test_add_working_time(start: datetime, amount: timedelta, expected: datetime) -> None:
    assert add_working_time(start.astimezone(UTC), amount, PB.working_hours) == expected


# --- phones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["8 495 123-45-67", "+7 (495) 123 45 67", "74951234567", "8(495)1234567"]
)
def test_local_forms_of_one_number(raw: str) -> None:
    assert normalize_phone(raw) == "+74951234567"


def test_zone_only_when_the_number_tells_it() -> None:
    assert zone_for_phone("+74951234567") == "Europe/Moscow"
    assert zone_for_phone("+79991234567") is None  # a mobile: eleven zones possible
    assert normalize_phone("hello") is None and normalize_phone("12") is None
