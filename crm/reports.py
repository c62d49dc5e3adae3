"""Supervisor reports as SQL aggregates: the database folds the deals, Python gets a few rows.

Every report covers a period [start, end) and optionally one team (the deal's team; for per-rep
figures the employee's team). Stages come from the timeline: a CREATED event says where a deal
started (data.stage), a STAGE event where it moved (data.to). Money is in minor units.

Dialect notes. PostgreSQL buckets times in the department zone with AT TIME ZONE. SQLite has no
zones: calendar buckets (week, month) shift times by the department zone's UTC offset at the
period's end, exact for zones without DST such as Moscow; the client's local hour is grouped in
SQL by (zone, UTC date and hour) and folded into local hours in Python with zoneinfo — aggregate
rows (at most zones x days x 24), never deals.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from config.playbook import Playbook
from crm.context import Crm
from crm.deals import first_phones
from storage.db import dialect, reading_connection
from storage.models import Task, TaskStatus

_ZONE_RE = re.compile(r"^[A-Za-z0-9_+\-/]+$")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    team: str | None = None


@dataclass(frozen=True)
class FunnelStage:
    stage: str
    entered: int
    amount: int
    # Share of the deals entering the previous funnel step that reached this one or went past it
    # (at most 1); None for the first step and for exits (lost, archive), not steps of the funnel.
    conversion: float | None


@dataclass(frozen=True)
class LostReason:
    reason: str
    deals: int
    share: float
    amount: int


@dataclass(frozen=True)
class SourceRow:
    source: str
    deals: int
    won: int
    won_amount: int
    win_rate: float


@dataclass(frozen=True)
class RepRow:
    employee_id: int
    name: str
    calls: int
    answered: int
    reach_rate: float | None
    outcomes: tuple[tuple[str, int], ...]
    won: int
    won_amount: int
    mean_days_to_close: float | None
    overdue: int


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


@dataclass(frozen=True)
class ForecastRow:
    stage: str
    open_deals: int
    open_amount: int
    win_rate: float  # won / decided among deals that ever entered the stage
    weighted_amount: int


@dataclass(frozen=True)
class HourRow:
    hour: int  # client's local hour
    attempts: int
    reached: int

    @property
    def reach_rate(self) -> float:
        return self.reached / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class Dialing:
    # (n no-answer presses before the client was reached, deals-times reached so)
    reached_after: tuple[tuple[int, int], ...]
    by_hour: tuple[HourRow, ...]
    gave_up: int  # ladders that ran out (the deal went to the ladder's end stage)


@dataclass(frozen=True)
class LadderStats:
    attempts: int  # no-answer presses
    gave_up: int


class _Sql:
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


async def _rows(sql: _Sql, text: str, *params: Any) -> list[dict[str, Any]]:
    # SQLite compares stored times as text, all written in UTC ("…+00:00"): a moment passed
    # in another offset would compare wrongly by that offset, so every moment goes in UTC.
    values = [p.astimezone(UTC) if isinstance(p, datetime) else p for p in params]
    return list(await reading_connection().execute_query_dict(sql.params(text), values))


def _sql(crm: Crm, period: Period) -> _Sql:
    return _Sql(crm.playbook.working_hours.timezone, period.end)


def _team(period: Period, column: str) -> tuple[str, tuple[str, ...]]:
    return (f" AND {column} = ?", (period.team,)) if period.team else ("", ())


def _money(value: Any) -> int:
    return int(value or 0)


def funnel_stages(playbook: Playbook) -> tuple[str, ...]:
    """The funnel's steps: the open stages in order, then the won stage(s)."""
    open_ = [s.key for s in playbook.stages if s.terminal is None]
    won = [s.key for s in playbook.stages if s.terminal == "won"]
    return (*open_, *won)


async def funnel(crm: Crm, period: Period) -> tuple[FunnelStage, ...]:
    """Deals entering each stage in the period (a deal back in a stage counts once).

    A step's conversion is the share of the deals that entered the previous step in the period
    which also reached this step or a later one in it (a skipped step counts as passed). Dividing
    this step's entries by the previous step's instead gave more than 100% whenever deals came in
    past the previous step: created there, or in it before the period.
    """
    # One pass over the period's entries grouped by deal: which stages each deal entered (a
    # flag per stage, so a deal back in a stage counts once) and the furthest step it reached.
    sql = _sql(crm, period)
    team, team_params = _team(period, "d.team")
    steps = funnel_stages(crm.playbook)
    stages = [spec.key for spec in crm.playbook.stages]
    # Stage keys are parameters; indexes and ranks, our own integers, are written in.
    flags = ", ".join(
        f"MAX(CASE WHEN s.stage = ? THEN 1 ELSE 0 END) AS f{i}" for i in range(len(stages))
    )
    rank = f"CASE s.stage {' '.join(f'WHEN ? THEN {i}' for i in range(len(steps)))} END"
    # went_on{n}: deals entering step n that reached a later step too.
    sums = ", ".join(
        [f"SUM(f{i}) AS entered{i}, SUM(f{i} * d.amount) AS amount{i}" for i in range(len(stages))]
        + [f"SUM(CASE WHEN furthest > {n} THEN f{stages.index(key)} ELSE 0 END) AS went_on{n}"
           for n, key in enumerate(steps)]
    )
    [row] = await _rows(
        sql,
        f"""SELECT {sums}
            FROM (SELECT s.deal_id AS deal_id, {flags}, MAX({rank}) AS furthest
                  FROM (SELECT e.deal_id AS deal_id, {sql.stage_entered('e.data')} AS stage
                        FROM timeline_event e
                        WHERE e.kind IN ('created', 'stage') AND e.at >= ? AND e.at < ?) s
                  GROUP BY s.deal_id) x
            JOIN deal d ON d.id = x.deal_id
            WHERE 1 = 1{team}""",
        *stages, *steps, period.start, period.end, *team_params,
    )
    entered = {key: int(row[f"entered{i}"] or 0) for i, key in enumerate(stages)}
    amount = {key: _money(row[f"amount{i}"]) for i, key in enumerate(stages)}
    result: list[FunnelStage] = []
    for n, stage in enumerate(steps):
        before = entered[steps[n - 1]] if n else 0
        conversion = int(row[f"went_on{n - 1}"] or 0) / before if before else None
        result.append(FunnelStage(stage, entered[stage], amount[stage], conversion))
    result += [FunnelStage(key, entered[key], amount[key], None) for key in stages
               if key not in steps]
    return tuple(result)


async def lost_reasons(crm: Crm, period: Period) -> tuple[LostReason, ...]:
    sql = _sql(crm, period)
    team, team_params = _team(period, "team")
    rows = await _rows(
        sql,
        f"""SELECT COALESCE(lost_reason, '') AS reason, COUNT(*) AS deals, SUM(amount) AS amount
            FROM deal
            WHERE status = 'lost' AND closed_at >= ? AND closed_at < ?{team}
            GROUP BY COALESCE(lost_reason, '')
            ORDER BY deals DESC, reason""",
        period.start, period.end, *team_params,
    )
    total = sum(int(r["deals"]) for r in rows)
    return tuple(
        LostReason(r["reason"], int(r["deals"]), int(r["deals"]) / total, _money(r["amount"]))
        for r in rows
    )


async def sources(crm: Crm, period: Period) -> tuple[SourceRow, ...]:
    """Deals created in the period by source; win rate = share of them won by now."""
    sql = _sql(crm, period)
    team, team_params = _team(period, "team")
    rows = await _rows(
        sql,
        f"""SELECT source, COUNT(*) AS deals,
                   SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END) AS won,
                   SUM(CASE WHEN status = 'won' THEN amount ELSE 0 END) AS won_amount
            FROM deal
            WHERE created_at >= ? AND created_at < ?{team}
            GROUP BY source
            ORDER BY deals DESC, source""",
        period.start, period.end, *team_params,
    )
    return tuple(
        SourceRow(
            r["source"], int(r["deals"]), int(r["won"] or 0), _money(r["won_amount"]),
            int(r["won"] or 0) / int(r["deals"]),
        )
        for r in rows
    )


async def reps(crm: Crm, period: Period) -> tuple[RepRow, ...]:
    """Per rep: calls and reach, outcome mix, won deals, mean days to close, overdue tasks now."""
    sql = _sql(crm, period)
    team, team_params = _team(period, "m.team")
    span = (period.start, period.end)
    people = await _rows(
        sql,
        f"SELECT m.id AS id, m.name AS name FROM employee m "
        f"WHERE m.role = 'rep' AND m.active = TRUE{team} ORDER BY m.name, m.id",
        *team_params,
    )
    calls = await _rows(
        sql,
        f"""SELECT c.agent_id AS id, COUNT(*) AS calls, COUNT(c.answered_at) AS answered
            FROM call c JOIN employee m ON m.id = c.agent_id
            WHERE c.started_at >= ? AND c.started_at < ?{team}
            GROUP BY c.agent_id""",
        *span, *team_params,
    )
    outcomes = await _rows(
        sql,
        f"""SELECT e.actor_id AS id, {sql.text('e.data', 'button')} AS button, COUNT(*) AS n
            FROM timeline_event e JOIN employee m ON m.id = e.actor_id
            WHERE e.kind = 'outcome' AND e.at >= ? AND e.at < ?{team}
            GROUP BY e.actor_id, {sql.text('e.data', 'button')}""",
        *span, *team_params,
    )
    won = await _rows(
        sql,
        f"""SELECT d.owner_id AS id, COUNT(*) AS won, SUM(d.amount) AS amount,
                   AVG({sql.days_between('d.created_at', 'd.closed_at')}) AS days
            FROM deal d JOIN employee m ON m.id = d.owner_id
            WHERE d.status = 'won' AND d.closed_at >= ? AND d.closed_at < ?{team}
            GROUP BY d.owner_id""",
        *span, *team_params,
    )
    overdue = await _rows(
        sql,
        f"""SELECT t.assignee_id AS id, COUNT(*) AS n
            FROM task t JOIN employee m ON m.id = t.assignee_id
            WHERE t.status = 'open' AND t.due_at < ?{team}
            GROUP BY t.assignee_id""",
        crm.now(), *team_params,
    )
    by_calls = {r["id"]: r for r in calls}
    by_won = {r["id"]: r for r in won}
    by_overdue = {r["id"]: int(r["n"]) for r in overdue}
    mix: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for r in sorted(outcomes, key=lambda r: (-int(r["n"]), str(r["button"]))):
        mix[r["id"]].append((str(r["button"]), int(r["n"])))
    result = []
    for person in people:
        key = person["id"]
        call = by_calls.get(key, {})
        made, answered = int(call.get("calls", 0)), int(call.get("answered", 0))
        deal = by_won.get(key, {})
        days = deal.get("days")
        result.append(
            RepRow(
                employee_id=int(key), name=person["name"], calls=made, answered=answered,
                reach_rate=answered / made if made else None, outcomes=tuple(mix.get(key, ())),
                won=int(deal.get("won", 0)), won_amount=_money(deal.get("amount")),
                mean_days_to_close=float(days) if days is not None else None,
                overdue=by_overdue.get(key, 0),
            )
        )
    return tuple(result)


async def dynamics(crm: Crm, period: Period, by: str = "week") -> tuple[DynamicsRow, ...]:
    """New, won and lost deals per ISO week (Monday's date) or month, in the department zone."""
    sql = _sql(crm, period)
    bucket = sql.week if by == "week" else sql.month
    return tuple(
        DynamicsRow(str(key), *counts)
        for key, counts in sorted((await _new_won_lost(sql, period, bucket)).items())
    )


async def seasonality(crm: Crm, period: Period) -> tuple[SeasonRow, ...]:
    """New, won and lost deals per month of the year over the period (pass a year or more)."""
    sql = _sql(crm, period)
    found = await _new_won_lost(sql, period, sql.month_of_year)
    return tuple(SeasonRow(m, *found.get(m, (0, 0, 0))) for m in range(1, 13))


async def _new_won_lost(
    sql: _Sql, period: Period, bucket: Any
) -> dict[Any, tuple[int, int, int]]:
    team, team_params = _team(period, "team")
    rows = await _rows(
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


async def forecast(crm: Crm, period: Period) -> tuple[ForecastRow, ...]:
    """Open amount per stage now, weighted by the stage's historical win rate.

    The win rate of a stage counts the deals that entered it before the period's end and are
    decided (won, lost or archived): still-open deals would only pull the rate down.
    """
    sql = _sql(crm, period)
    team, team_params = _team(period, "d.team")
    history = await _rows(
        sql,
        f"""SELECT s.stage AS stage, COUNT(*) AS decided,
                   SUM(CASE WHEN d.status = 'won' THEN 1 ELSE 0 END) AS won
            FROM (SELECT e.deal_id AS deal_id, {sql.stage_entered('e.data')} AS stage
                  FROM timeline_event e
                  WHERE e.kind IN ('created', 'stage') AND e.at < ?
                  GROUP BY 1, 2) s
            JOIN deal d ON d.id = s.deal_id
            WHERE d.status <> 'open'{team}
            GROUP BY s.stage""",
        period.end, *team_params,
    )
    open_now = await _rows(
        sql,
        f"""SELECT d.stage AS stage, COUNT(*) AS deals, SUM(d.amount) AS amount
            FROM deal d WHERE d.status = 'open'{team} GROUP BY d.stage""",
        *team_params,
    )
    rates = {r["stage"]: int(r["won"] or 0) / int(r["decided"]) for r in history}
    opened = {r["stage"]: (int(r["deals"]), _money(r["amount"])) for r in open_now}
    result = []
    for spec in crm.playbook.stages:
        if spec.terminal is not None:
            continue
        deals, amount = opened.get(spec.key, (0, 0))
        rate = rates.get(spec.key, 0.0)
        result.append(ForecastRow(spec.key, deals, amount, rate, round(amount * rate)))
    return tuple(result)


def _dial_buttons(playbook: Playbook) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ladder = tuple(k for k, b in playbook.buttons.items() if b.ladder)
    reached = tuple(k for k, b in playbook.buttons.items() if b.reached)
    return ladder, reached


async def ladder_stats(crm: Crm, period: Period) -> LadderStats:
    """No-answer presses in the period and how many of them ended their ladder."""
    sql = _sql(crm, period)
    ladder, _ = _dial_buttons(crm.playbook)
    team, team_params = _team(period, "d.team")
    button = sql.text("e.data", "button")
    rows = await _rows(
        sql,
        f"""SELECT {button} AS button, {sql.int('e.data', 'attempt')} AS attempt, COUNT(*) AS n
            FROM timeline_event e JOIN deal d ON d.id = e.deal_id
            WHERE e.kind = 'outcome' AND e.at >= ? AND e.at < ?
              AND {button} IN ({sql.marks(ladder)}){team}
            GROUP BY 1, 2""",
        period.start, period.end, *ladder, *team_params,
    )
    sizes = {b: len(crm.playbook.ladders[crm.playbook.buttons[b].ladder or ""].steps) + 1
             for b in ladder}
    return LadderStats(
        attempts=sum(int(r["n"]) for r in rows),
        gave_up=sum(int(r["n"]) for r in rows if int(r["attempt"] or 0) >= sizes[r["button"]]),
    )


async def dialing(crm: Crm, period: Period) -> Dialing:
    sql = _sql(crm, period)
    ladder, reached = _dial_buttons(crm.playbook)
    team, team_params = _team(period, "d.team")
    button = sql.text("e.data", "button")
    # For each reached press, the press before it on the same deal: a ladder press carries its
    # attempt number (the ladder restarts after every reach), anything else means 0 misses.
    after = await _rows(
        sql,
        f"""SELECT COALESCE(CASE WHEN prev_button IN ({sql.marks(ladder)}) THEN prev_attempt END, 0)
                       AS misses, COUNT(*) AS n
            FROM (SELECT {button} AS button, e.at AS at,
                         LAG({button}) OVER w AS prev_button,
                         LAG({sql.int('e.data', 'attempt')}) OVER w AS prev_attempt
                  FROM timeline_event e JOIN deal d ON d.id = e.deal_id
                  WHERE e.kind = 'outcome' AND e.at < ?{team}
                  WINDOW w AS (PARTITION BY e.deal_id ORDER BY e.at, e.id)) x
            WHERE button IN ({sql.marks(reached)}) AND at >= ?
            GROUP BY 1 ORDER BY 1""",
        *ladder, period.end, *team_params, *reached, period.start,
    )
    dept_zone = crm.playbook.working_hours.timezone
    dialled = (*ladder, *reached)
    reached_case = f"CASE WHEN {button} IN ({sql.marks(reached)}) THEN 1 ELSE 0 END"
    if sql.pg:
        hour_rows = await _rows(
            sql,
            f"""SELECT EXTRACT(HOUR FROM e.at AT TIME ZONE COALESCE(c.tz, ?))::int AS hour,
                       COUNT(*) AS attempts, SUM({reached_case}) AS reached
                FROM timeline_event e JOIN deal d ON d.id = e.deal_id
                JOIN contact c ON c.id = d.contact_id
                WHERE e.kind = 'outcome' AND e.at >= ? AND e.at < ?
                  AND {button} IN ({sql.marks(dialled)}){team}
                GROUP BY 1""",
            dept_zone, *reached, period.start, period.end, *dialled, *team_params,
        )
        hours: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for r in hour_rows:
            hours[int(r["hour"])] = [int(r["attempts"]), int(r["reached"] or 0)]
    else:
        hour_rows = await _rows(
            sql,
            f"""SELECT c.tz AS tz, strftime('%Y-%m-%d %H', e.at) AS utc_hour,
                       COUNT(*) AS attempts, SUM({reached_case}) AS reached
                FROM timeline_event e JOIN deal d ON d.id = e.deal_id
                JOIN contact c ON c.id = d.contact_id
                WHERE e.kind = 'outcome' AND e.at >= ? AND e.at < ?
                  AND {button} IN ({sql.marks(dialled)}){team}
                GROUP BY 1, 2""",
            *reached, period.start, period.end, *dialled, *team_params,
        )
        hours = defaultdict(lambda: [0, 0])
        for r in hour_rows:
            moment = datetime.strptime(r["utc_hour"], "%Y-%m-%d %H").replace(tzinfo=UTC)
            local = moment.astimezone(ZoneInfo(r["tz"] or dept_zone)).hour
            hours[local][0] += int(r["attempts"])
            hours[local][1] += int(r["reached"] or 0)
    stats = await ladder_stats(crm, period)
    return Dialing(
        reached_after=tuple((int(r["misses"]), int(r["n"])) for r in after),
        by_hour=tuple(HourRow(h, *hours[h]) for h in sorted(hours)),
        gave_up=stats.gave_up,
    )


@dataclass(frozen=True)
class OverdueTask:
    task_id: int
    deal_id: int
    team: str
    rep_id: int | None
    rep: str
    client: str
    due_at: datetime


async def overdue_tasks(crm: Crm, team: str | None, limit: int = 20) -> tuple[OverdueTask, ...]:
    """The most overdue open tasks of a team (all teams for None), oldest first."""
    query = Task.filter(status=TaskStatus.OPEN, due_at__lt=crm.now())
    if team:
        query = query.filter(team=team)
    rows = await query.order_by("due_at", "id").limit(limit).values(
        "id", "deal_id", "team", "assignee_id", "assignee__name", "deal__contact__name",
        "deal__contact_id", "due_at",
    )
    unnamed = {r["deal__contact_id"] for r in rows if not r["deal__contact__name"]}
    phones = await first_phones(unnamed)  # a contact with no name is shown by its number
    return tuple(
        OverdueTask(
            r["id"], r["deal_id"], r["team"], r["assignee_id"], r["assignee__name"] or "",
            r["deal__contact__name"] or phones.get(r["deal__contact_id"], ""), r["due_at"],
        )
        for r in rows
    )
