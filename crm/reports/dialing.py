"""How dialling goes: misses before a reach, reach by the client's local hour, ladders run out."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from config.playbook import Playbook
from crm.context import Crm
from crm.reports.sql import Period, fetch, sql_for, team_filter


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


def _dial_buttons(playbook: Playbook) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ladder = tuple(k for k, b in playbook.buttons.items() if b.ladder)
    reached = tuple(k for k, b in playbook.buttons.items() if b.reached)
    return ladder, reached


async def ladder_stats(crm: Crm, period: Period) -> LadderStats:
    """No-answer presses in the period and how many of them ended their ladder."""
    sql = sql_for(crm, period)
    ladder, _ = _dial_buttons(crm.playbook)
    team, team_params = team_filter(period, "d.team")
    button = sql.text("e.data", "button")
    rows = await fetch(
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
    sql = sql_for(crm, period)
    ladder, reached = _dial_buttons(crm.playbook)
    team, team_params = team_filter(period, "d.team")
    button = sql.text("e.data", "button")
    # For each reached press, the press before it on the same deal: a ladder press carries its
    # attempt number (the ladder restarts after every reach), anything else means 0 misses.
    after = await fetch(
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
        hour_rows = await fetch(
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
        hour_rows = await fetch(
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
