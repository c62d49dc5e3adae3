"""Per-rep figures and the most overdue tasks a supervisor should chase."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from crm.context import Crm
from crm.deals import first_phones
from crm.reports.sql import Period, fetch, money, sql_for, team_filter
from storage.models import Task, TaskStatus


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


async def reps(crm: Crm, period: Period) -> tuple[RepRow, ...]:
    """Per rep: calls and reach, outcome mix, won deals, mean days to close, overdue tasks now."""
    sql = sql_for(crm, period)
    team, team_params = team_filter(period, "m.team")
    span = (period.start, period.end)
    people = await fetch(
        sql,
        f"SELECT m.id AS id, m.name AS name FROM employee m "
        f"WHERE m.role = 'rep' AND m.active = TRUE{team} ORDER BY m.name, m.id",
        *team_params,
    )
    calls = await fetch(
        sql,
        f"""SELECT c.agent_id AS id, COUNT(*) AS calls, COUNT(c.answered_at) AS answered
            FROM call c JOIN employee m ON m.id = c.agent_id
            WHERE c.started_at >= ? AND c.started_at < ?{team}
            GROUP BY c.agent_id""",
        *span, *team_params,
    )
    outcomes = await fetch(
        sql,
        f"""SELECT e.actor_id AS id, {sql.text('e.data', 'button')} AS button, COUNT(*) AS n
            FROM timeline_event e JOIN employee m ON m.id = e.actor_id
            WHERE e.kind = 'outcome' AND e.at >= ? AND e.at < ?{team}
            GROUP BY e.actor_id, {sql.text('e.data', 'button')}""",
        *span, *team_params,
    )
    won = await fetch(
        sql,
        f"""SELECT d.owner_id AS id, COUNT(*) AS won, SUM(d.amount) AS amount,
                   AVG({sql.days_between('d.created_at', 'd.closed_at')}) AS days
            FROM deal d JOIN employee m ON m.id = d.owner_id
            WHERE d.status = 'won' AND d.closed_at >= ? AND d.closed_at < ?{team}
            GROUP BY d.owner_id""",
        *span, *team_params,
    )
    overdue = await fetch(
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
                won=int(deal.get("won", 0)), won_amount=money(deal.get("amount")),
                mean_days_to_close=float(days) if days is not None else None,
                overdue=by_overdue.get(key, 0),
            )
        )
    return tuple(result)


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
