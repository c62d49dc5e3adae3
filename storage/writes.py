"""The writes of an outcome press and of a captured call, as plain SQL.

They run on every button press and every finished call. Built through the ORM (a model
instance per row, a pypika query per update) they cost more CPU than the statements take to
run, and on SQLite that CPU is spent while the store's one connection is held
(bench/telephony_bench.py). They run on the caller's connection, so inside its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.fields.data import JSON_DUMPS

from storage.sql import placeholders


@dataclass(frozen=True, slots=True)
class EventRow:
    """One timeline_event row to insert."""

    deal_id: int
    kind: str
    at: datetime
    data: Mapping[str, object]
    actor_id: int | None = None
    text: str = ""


async def _changed(sql: str, *params: Any) -> int:
    count, _ = await connections.get("default").execute_query(placeholders(sql), list(params))
    return count


async def _returned_id(sql: str, *params: Any) -> int:
    rows = await connections.get("default").execute_query_dict(placeholders(sql), list(params))
    return int(rows[0]["id"])


async def close_open_task(
    task_id: int, outcome: str, actor_id: int | None, now: datetime
) -> bool:
    """Close the task if it is still open; False if someone closed it first."""
    return bool(
        await _changed(
            """UPDATE task SET status = 'done', closed_at = ?, outcome = ?, closed_by_id = ?
               WHERE id = ? AND status = 'open'""",
            now, outcome, actor_id, task_id,
        )
    )


async def update_deal(deal_id: int, version: int, changes: Mapping[str, object]) -> bool:
    """Set the deal's columns (names from the engine, never from input) if its version is
    still `version`; False if it changed meanwhile."""
    sets = ", ".join(f"{column} = ?" for column in changes)
    return bool(
        await _changed(
            f"UPDATE deal SET {sets} WHERE id = ? AND version = ?",
            *changes.values(), deal_id, version,
        )
    )


async def insert_task(
    deal_id: int, kind: str, due_at: datetime, assignee_id: int | None, team: str,
    attempt: int, planned_by: str | None, now: datetime,
) -> int:
    return await _returned_id(
        """INSERT INTO task (deal_id, kind, status, due_at, assignee_id, team, attempt,
                             planned_by, created_at)
           VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?) RETURNING id""",
        deal_id, kind, due_at, assignee_id, team, attempt, planned_by, now,
    )


async def insert_events(events: Sequence[EventRow]) -> None:
    """Several timeline events in one statement."""
    marks = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(events))
    params: list[Any] = []
    for e in events:
        params += [e.deal_id, e.kind, e.text, JSON_DUMPS(dict(e.data)), e.actor_id, e.at]
    await _changed(
        f"INSERT INTO timeline_event (deal_id, kind, text, data, actor_id, at) VALUES {marks}",
        *params,
    )


@dataclass(frozen=True, slots=True)
class CallRow:
    """One row of the call table."""

    call_id: str
    direction: str
    agent_id: int | None
    agent_ext: str | None
    remote: str
    remote_e164: str | None
    contact_id: int | None
    deal_id: int | None
    disposition: str
    sip_code: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    talk_seconds: int
    caller: str = ""
    callee: str = ""


async def insert_calls(calls: Sequence[CallRow]) -> None:
    """Several call rows in one statement; raises IntegrityError when a call id is stored
    already (none of them is then written)."""
    marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(calls))
    values: list[Any] = []
    for c in calls:
        values += [
            c.call_id, c.direction, c.agent_id, c.agent_ext, c.remote, c.remote_e164,
            c.contact_id, c.deal_id, c.disposition, c.sip_code, c.started_at, c.answered_at,
            c.ended_at, c.talk_seconds, c.caller, c.callee,
        ]
    await _changed(
        f"""INSERT INTO call (call_id, direction, agent_id, agent_ext, remote, remote_e164,
                              contact_id, deal_id, disposition, sip_code, started_at,
                              answered_at, ended_at, talk_seconds, caller, callee)
            VALUES {marks}""",
        *values,
    )
