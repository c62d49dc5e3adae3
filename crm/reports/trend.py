"""New, won and lost deals over time: per week or month, and per month of the year."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm.context import Crm
from crm.reports.sql import Period, Sql, fetch, sql_for, team_filter


@dataclass(frozen=True)
class DynamicsRow:
    bucket: str  # "2026-11-23" (Monday of an ISO week) or "2026-11"
    new: int
    won: int
    lost: int


@dataclass(frozen=True)
class SeasonRow:
    month: int  # 1..12
    new: int
    won: int
    lost: int


async def dynamics(crm: Crm, period: Period, by: str = "week") -> tuple[DynamicsRow, ...]:
    """New, won and lost deals per ISO week (Monday's date) or month, in the department zone."""
    sql = sql_for(crm, period)
    bucket = sql.week if by == "week" else sql.month
    return tuple(
        DynamicsRow(str(key), *counts)
        for key, counts in sorted((await _new_won_lost(sql, period, bucket)).items())
    )


async def seasonality(crm: Crm, period: Period) -> tuple[SeasonRow, ...]:
    """New, won and lost deals per month of the year over the period (pass a year or more)."""
    sql = sql_for(crm, period)
    found = await _new_won_lost(sql, period, sql.month_of_year)
    return tuple(SeasonRow(m, *found.get(m, (0, 0, 0))) for m in range(1, 13))


async def _new_won_lost(
    sql: Sql, period: Period, bucket: Any
) -> dict[Any, tuple[int, int, int]]:
    team, team_params = team_filter(period, "team")
    rows = await fetch(
        sql,
        f"""SELECT b, SUM(new) AS new, SUM(won) AS won, SUM(lost) AS lost FROM (
                SELECT {bucket('created_at')} AS b, 1 AS new, 0 AS won, 0 AS lost
                FROM deal WHERE created_at >= ? AND created_at < ?{team}
                UNION ALL
                SELECT {bucket('closed_at')} AS b, 0, CASE WHEN status = 'won' THEN 1 ELSE 0 END,
                       CASE WHEN status = 'lost' THEN 1 ELSE 0 END
                FROM deal WHERE status IN ('won', 'lost')
                  AND closed_at >= ? AND closed_at < ?{team}) x
            GROUP BY b""",
        period.start, period.end, *team_params, period.start, period.end, *team_params,
    )
    return {r["b"]: (int(r["new"]), int(r["won"]), int(r["lost"])) for r in rows}
