"""The reads every press and every captured call make, each written out as one statement:
the ORM spent more CPU building these queries than the store took to run them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import connections

from storage.models import Deal, Employee
from storage.sql import fetch_rows, placeholders


@dataclass(frozen=True, slots=True)
class PressTarget:
    """What an outcome press reads: the task, its deal and the client's zone, in one row."""

    task_id: int
    task_status: str
    deal_id: int
    stage: str
    no_answer_count: int
    owner_id: int | None
    team: str
    version: int
    title: str
    contact_id: int
    contact_tz: str | None


async def load_press_target(task_id: int) -> PressTarget | None:
    """One join instead of select_related: building that query cost Tortoise ~1 ms of CPU, half
    of a whole press (bench/store_bench.py)."""
    rows = await fetch_rows(
        """SELECT t.id AS task_id, t.status AS task_status, d.id AS deal_id, d.stage,
                  d.no_answer_count, d.owner_id, d.team, d.version, d.title,
                  c.id AS contact_id, c.tz AS contact_tz
           FROM task t JOIN deal d ON d.id = t.deal_id JOIN contact c ON c.id = d.contact_id
           WHERE t.id = ?""",
        task_id,
    )
    return PressTarget(**rows[0]) if rows else None


@dataclass(frozen=True, slots=True)
class CallTarget:
    """The client behind a number: his contact, and the open deal and task a call goes to."""

    contact_id: int
    deal_id: int | None
    owner_id: int | None
    team: str | None
    task_id: int | None
    press: PressTarget | None  # the open task as a press reads it: the auto-press skips a read


# The client behind a number for an agent ({agent}, {team}): his own open deal with the number,
# else one of his team's (the newest), else the contact alone (deal_id None). The columns are
# prefixed so that they can sit beside an employee's.
_TARGET_COLUMNS = """p.contact_id AS to_contact_id, d.id AS to_deal_id, d.owner_id AS to_owner_id,
    d.team AS to_team, t.id AS to_task_id, d.stage AS to_stage,
    d.no_answer_count AS to_no_answer_count, d.version AS to_version, d.title AS to_title,
    c.tz AS to_contact_tz"""
_TARGET_FIELDS = [
    "to_contact_id", "to_deal_id", "to_owner_id", "to_team", "to_task_id", "to_stage",
    "to_no_answer_count", "to_version", "to_title", "to_contact_tz",
]
_TARGET_JOINS = """LEFT JOIN contact c ON c.id = p.contact_id
    LEFT JOIN deal d ON d.contact_id = p.contact_id AND d.status = 'open'
        AND (d.owner_id = {agent} OR d.team = {team})
    LEFT JOIN task t ON t.deal_id = d.id AND t.status = 'open'"""
_TARGET_ORDER = "CASE WHEN d.owner_id = {agent} THEN 0 WHEN d.id IS NOT NULL THEN 1 ELSE 2 END, " \
    "d.created_at DESC"


def _call_target(r: dict[str, Any]) -> CallTarget | None:
    if r["to_contact_id"] is None:
        return None
    press = None
    if r["to_task_id"] is not None:
        press = PressTarget(
            r["to_task_id"], "open", r["to_deal_id"], r["to_stage"], r["to_no_answer_count"],
            r["to_owner_id"], r["to_team"], r["to_version"], r["to_title"], r["to_contact_id"],
            r["to_contact_tz"],
        )
    return CallTarget(
        r["to_contact_id"], r["to_deal_id"], r["to_owner_id"], r["to_team"], r["to_task_id"],
        press,
    )


async def call_target(e164: str, agent_id: int | None, team: str | None) -> CallTarget | None:
    """One join for a call's far side (_TARGET_JOINS)."""
    rows = await fetch_rows(
        f"""SELECT {_TARGET_COLUMNS} FROM contact_phone p
           {_TARGET_JOINS.format(agent="?", team="?")}
           WHERE p.e164 = ? ORDER BY {_TARGET_ORDER.format(agent="?")} LIMIT 1""",
        agent_id, team, e164, agent_id,
    )
    return _call_target(rows[0]) if rows else None


@dataclass(frozen=True, slots=True)
class CallSides:
    agent: Employee
    outbound: bool  # the agent is the caller
    target: CallTarget | None  # the far side's client, for the agent


Sides = tuple[str, str, str | None, str | None]  # caller, callee and their E.164 forms


async def call_sides(
    caller: str, callee: str, caller_e164: str | None, callee_e164: str | None
) -> CallSides | None:
    """The active employee whose extension is a side of a call (the caller when both are) and
    the far side's client for him (call_target), in one statement: every captured call asks,
    and on SQLite's one connection each statement is a round trip through its thread. None
    when neither side is an employee's."""
    [found] = await many_call_sides([(caller, callee, caller_e164, callee_e164)])
    return found


_SIDES = f"""SELECT * FROM (
    SELECT {{n}} AS to_n, e.*, e.sip_ext = ? AS to_outbound, {_TARGET_COLUMNS}
    FROM employee e
    LEFT JOIN contact_phone p ON p.e164 = CASE WHEN e.sip_ext = ? THEN ? ELSE ? END
    {_TARGET_JOINS.format(agent="e.id", team="e.team")}
    WHERE e.sip_ext IN (?, ?) AND e.active = ?
    ORDER BY CASE WHEN e.sip_ext = ? THEN 0 ELSE 1 END, {_TARGET_ORDER.format(agent="e.id")}
    LIMIT 1) s{{n}}"""
_SIDES_FIELDS = ["to_n", "to_outbound", *_TARGET_FIELDS]


async def many_call_sides(calls: Sequence[Sides]) -> list[CallSides | None]:
    """call_sides of several calls, in order, in one statement (a batch of captured calls)."""
    sql = " UNION ALL ".join(_SIDES.format(n=n) for n in range(len(calls)))
    values: list[Any] = []
    for caller, callee, caller_e164, callee_e164 in calls:
        values += [caller, caller, callee_e164, caller_e164, caller, callee, True, caller]
    conn = connections.get("default")
    found = await conn.executor_class(model=Employee, db=conn).execute_select(
        placeholders(sql), values, custom_fields=_SIDES_FIELDS
    )
    sides: list[CallSides | None] = [None] * len(calls)
    for agent in found:
        # The columns execute_select set on the instance leave it: it is a plain Employee.
        row = {f: agent.__dict__.pop(f) for f in _SIDES_FIELDS}
        sides[row["to_n"]] = CallSides(agent, bool(row["to_outbound"]), _call_target(row))
    return sides


async def active_employee_by_tg(tg_id: int) -> Employee | None:
    """The active employee with this Telegram id: every update asks, so the statement is
    written out (the ORM spent more CPU building the query than the store running it)."""
    conn = connections.get("default")
    found = await conn.executor_class(model=Employee, db=conn).execute_select(
        placeholders("SELECT * FROM employee WHERE tg_id = ? AND active = ?"), [tg_id, True]
    )
    return found[0] if found else None


async def deal_of_task(task_id: int) -> Deal | None:
    """The deal a task belongs to: the scope check in front of every button asks, and
    select_related cost as much CPU to build as the rest of a menu press."""
    conn = connections.get("default")
    found = await conn.executor_class(model=Deal, db=conn).execute_select(
        placeholders("SELECT d.* FROM task t JOIN deal d ON d.id = t.deal_id WHERE t.id = ?"),
        [task_id],
    )
    return found[0] if found else None
