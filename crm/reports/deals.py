"""Where deals go: the funnel by stage, lost reasons, sources and the weighted forecast.

Stages come from the timeline: a CREATED event says where a deal started (data.stage), a STAGE
event where it moved (data.to). Money is in minor units.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.playbook import Playbook
from crm.context import Crm
from crm.reports.sql import Period, fetch, field_filter, money, sql_for, team_filter


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
class ForecastRow:
    stage: str
    open_deals: int
    open_amount: int
    win_rate: float  # won / decided among deals that ever entered the stage
    weighted_amount: int


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
    sql = sql_for(crm, period)
    team, team_params = team_filter(period, "d.team")
    field, field_params = field_filter(period, "d")
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
    [row] = await fetch(
        sql,
        f"""SELECT {sums}
            FROM (SELECT s.deal_id AS deal_id, {flags}, MAX({rank}) AS furthest
                  FROM (SELECT e.deal_id AS deal_id, {sql.stage_entered('e.data')} AS stage
                        FROM timeline_event e
                        WHERE e.kind IN ('created', 'stage') AND e.at >= ? AND e.at < ?) s
                  GROUP BY s.deal_id) x
            JOIN deal d ON d.id = x.deal_id
            WHERE 1 = 1{team}{field}""",
        *stages, *steps, period.start, period.end, *team_params, *field_params,
    )
    entered = {key: int(row[f"entered{i}"] or 0) for i, key in enumerate(stages)}
    amount = {key: money(row[f"amount{i}"]) for i, key in enumerate(stages)}
    result: list[FunnelStage] = []
    for n, stage in enumerate(steps):
        before = entered[steps[n - 1]] if n else 0
        conversion = int(row[f"went_on{n - 1}"] or 0) / before if before else None
        result.append(FunnelStage(stage, entered[stage], amount[stage], conversion))
    result += [FunnelStage(key, entered[key], amount[key], None) for key in stages
               if key not in steps]
    return tuple(result)


async def lost_reasons(crm: Crm, period: Period) -> tuple[LostReason, ...]:
    sql = sql_for(crm, period)
    team, team_params = team_filter(period, "team")
    rows = await fetch(
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
        LostReason(r["reason"], int(r["deals"]), int(r["deals"]) / total, money(r["amount"]))
        for r in rows
    )


async def sources(crm: Crm, period: Period) -> tuple[SourceRow, ...]:
    """Deals created in the period by source; win rate = share of them won by now."""
    sql = sql_for(crm, period)
    team, team_params = team_filter(period, "team")
    field, field_params = field_filter(period, "")
    rows = await fetch(
        sql,
        f"""SELECT source, COUNT(*) AS deals,
                   SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END) AS won,
                   SUM(CASE WHEN status = 'won' THEN amount ELSE 0 END) AS won_amount
            FROM deal
            WHERE created_at >= ? AND created_at < ?{team}{field}
            GROUP BY source
            ORDER BY deals DESC, source""",
        period.start, period.end, *team_params, *field_params,
    )
    return tuple(
        SourceRow(
            r["source"], int(r["deals"]), int(r["won"] or 0), money(r["won_amount"]),
            int(r["won"] or 0) / int(r["deals"]),
        )
        for r in rows
    )


async def forecast(crm: Crm, period: Period) -> tuple[ForecastRow, ...]:
    """Open amount per stage now, weighted by the stage's historical win rate.

    The win rate of a stage counts the deals that entered it before the period's end and are
    decided (won, lost or archived): still-open deals would only pull the rate down.
    """
    sql = sql_for(crm, period)
    team, team_params = team_filter(period, "d.team")
    history = await fetch(
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
    open_now = await fetch(
        sql,
        f"""SELECT d.stage AS stage, COUNT(*) AS deals, SUM(d.amount) AS amount
            FROM deal d WHERE d.status = 'open'{team} GROUP BY d.stage""",
        *team_params,
    )
    rates = {r["stage"]: int(r["won"] or 0) / int(r["decided"]) for r in history}
    opened = {r["stage"]: (int(r["deals"]), money(r["amount"])) for r in open_now}
    result = []
    for spec in crm.playbook.stages:
        if spec.terminal is not None:
            continue
        deals, amount = opened.get(spec.key, (0, 0))
        rate = rates.get(spec.key, 0.0)
        result.append(ForecastRow(spec.key, deals, amount, rate, round(amount * rate)))
    return tuple(result)
