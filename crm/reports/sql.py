"""What every report query shares: the period, the SQL that differs between SQLite and PostgreSQL,
and running a query on the reading connection.

Dialect notes. PostgreSQL buckets times in the department zone with AT TIME ZONE. SQLite has no
zones: calendar buckets (week, month) shift times by the department zone's UTC offset at the
period's end, exact for zones without DST such as Moscow; the client's local hour is grouped in
SQL by (zone, UTC date and hour) and folded into local hours in Python with zoneinfo — aggregate
rows (at most zones x days x 24), never deals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm.context import Crm
from storage.db import dialect, reading_connection

_ZONE_RE = re.compile(r"^[A-Za-z0-9_+\-/]+$")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    team: str | None = None
    # Only deals whose choice field holds this option: (field key, "deal" or "contact", option).
    # The funnel and sources honour it (crm/reports/by_field.py groups them by a field).
    field: tuple[str, str, str] | None = None


class Sql:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, zone: str, end: datetime) -> None:
        if not _ZONE_RE.match(zone):
            raise ValueError(f"bad zone name {zone!r}")
        self.pg = dialect() == "postgres"
        self.zone = zone
        offset = end.astimezone(ZoneInfo(zone)).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        self._shift = f"'{minutes:+d} minutes'"

    def params(self, sql: str) -> str:
        if not self.pg:
            return sql
        parts = sql.split("?")
        return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))

    def text(self, column: str, key: str) -> str:
        return f"{column}->>'{key}'" if self.pg else f"json_extract({column}, '$.{key}')"

    def int(self, column: str, key: str) -> str:
        return f"({column}->>'{key}')::int" if self.pg else f"json_extract({column}, '$.{key}')"

    def days_between(self, start: str, end: str) -> str:
        if self.pg:
            return f"EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0"
        return f"(julianday({end}) - julianday({start}))"

    def _local(self, column: str) -> str:
        if self.pg:
            return f"({column} AT TIME ZONE '{self.zone}')"
        return f"datetime({column}, {self._shift})"

    def week(self, column: str) -> str:
        if self.pg:
            return f"to_char(date_trunc('week', {self._local(column)}), 'YYYY-MM-DD')"
        return f"date({self._local(column)}, 'weekday 0', '-6 days')"

    def month(self, column: str) -> str:
        if self.pg:
            return f"to_char({self._local(column)}, 'YYYY-MM')"
        return f"strftime('%Y-%m', {self._local(column)})"

    def month_of_year(self, column: str) -> str:
        if self.pg:
            return f"EXTRACT(MONTH FROM {self._local(column)})::int"
        return f"CAST(strftime('%m', {self._local(column)}) AS INTEGER)"

    def stage_entered(self, column: str) -> str:
        # CREATED events carry {"stage": …}, STAGE events {"from": …, "to": …}.
        return f"COALESCE({self.text(column, 'to')}, {self.text(column, 'stage')})"

    @staticmethod
    def marks(values: tuple[str, ...]) -> str:
        return ", ".join("?" for _ in values) or "NULL"


async def fetch(sql: Sql, text: str, *params: Any) -> list[dict[str, Any]]:
    # SQLite compares stored times as text, all written in UTC ("…+00:00"): a moment passed
    # in another offset would compare wrongly by that offset, so every moment goes in UTC.
    values = [p.astimezone(UTC) if isinstance(p, datetime) else p for p in params]
    return list(await reading_connection().execute_query_dict(sql.params(text), values))


def sql_for(crm: Crm, period: Period) -> Sql:
    return Sql(crm.playbook.working_hours.timezone, period.end)


def team_filter(period: Period, column: str) -> tuple[str, tuple[str, ...]]:
    return (f" AND {column} = ?", (period.team,)) if period.team else ("", ())


def field_filter(period: Period, deal: str) -> tuple[str, tuple[str, ...]]:
    """The SQL and parameters keeping the deals (`deal`: the deal table's alias) whose field
    holds the period's option, through the field tables' (key, folded, owner) indexes."""
    if period.field is None:
        return "", ()
    key, owner, option = period.field
    prefix = f"{deal}." if deal else ""
    if owner == "deal":
        sql = f" AND {prefix}id IN (SELECT deal_id FROM deal_field WHERE key = ? AND folded = ?)"
    else:
        sql = (f" AND {prefix}contact_id IN"
               " (SELECT contact_id FROM contact_field WHERE key = ? AND folded = ?)")
    return sql, (key, option)


def money(value: Any) -> int:
    return int(value or 0)
