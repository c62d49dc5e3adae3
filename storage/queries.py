"""The contended statements, as single `UPDATE … RETURNING` claims.

A claim must hand each row to exactly one caller across processes. On PostgreSQL the inner
SELECT takes row locks with SKIP LOCKED so concurrent claimers pass each other by; SQLite has
one writer at a time, so the single statement is already atomic there. The ORM path
(select_for_update + update) was 2-6x slower on these paths (../shared/notes/store.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections

from storage.db import dialect


def _params(sql: str) -> str:
    """Write statements with '?' and get '$1, $2…' on PostgreSQL."""
    if dialect() != "postgres":
        return sql
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


def _lock() -> str:
    return "FOR UPDATE SKIP LOCKED" if dialect() == "postgres" else ""


async def _rows(sql: str, *params: Any) -> list[dict[str, Any]]:
    conn = connections.get("default")
    return list(await conn.execute_query_dict(_params(sql), list(params)))


async def claim_queued_task(employee_id: int, team: str) -> int | None:
    """Give the oldest unassigned open task of a team to one employee; its id, or None."""
    rows = await _rows(
        f"""UPDATE task SET assignee_id = ?
            WHERE id = (SELECT id FROM task
                        WHERE status = 'open' AND assignee_id IS NULL AND team = ?
                        ORDER BY created_at, id LIMIT 1 {_lock()})
              AND assignee_id IS NULL
            RETURNING id, deal_id""",
        employee_id, team,
    )
    return int(rows[0]["id"]) if rows else None


async def claim_due_pushes(now: datetime, limit: int) -> list[tuple[int, int]]:
    """Mark up to `limit` due, unpushed, assigned tasks as pushed; (task id, assignee id) each.

    The database is the truth: whatever process claims a row pushes it, once, also after a
    restart (a task that fell due while we were down is simply still unpushed).
    """
    rows = await _rows(
        f"""UPDATE task SET pushed_at = ?
            WHERE id IN (SELECT id FROM task
                         WHERE status = 'open' AND pushed_at IS NULL AND due_at <= ?
                           AND assignee_id IS NOT NULL
                         ORDER BY due_at LIMIT ? {_lock()})
              AND pushed_at IS NULL
            RETURNING id, assignee_id""",
        now, now, limit,
    )
    return [(int(r["id"]), int(r["assignee_id"])) for r in rows]


async def release_push(task_id: int) -> None:
    """Undo a claim whose message could not be sent, so the next tick tries again."""
    await _rows("UPDATE task SET pushed_at = NULL WHERE id = ? RETURNING id", task_id)


async def reserve_ids(table: str, count: int) -> list[int]:
    """Primary keys for `count` rows a bulk insert will write (executemany returns no ids).

    Call inside the transaction that inserts them. PostgreSQL hands out the sequence values, safe
    across processes. SQLite has one writer: the no-op UPDATE takes the write lock before MAX is
    read, so no other process can insert between the read and our insert.
    """
    if count <= 0:
        return []
    if dialect() == "postgres":
        rows = await _rows(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id "
            "FROM generate_series(1, ?)",
            count,
        )
        return [int(r["id"]) for r in rows]
    conn = connections.get("default")
    await conn.execute_query(f"UPDATE {table} SET id = id WHERE id < 0")
    rows = await _rows(f"SELECT COALESCE(MAX(id), 0) AS top FROM {table}")
    top = int(rows[0]["top"])
    return list(range(top + 1, top + 1 + count))


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
    rows = await _rows(
        """SELECT t.id AS task_id, t.status AS task_status, d.id AS deal_id, d.stage,
                  d.no_answer_count, d.owner_id, d.team, d.version, d.title,
                  c.id AS contact_id, c.tz AS contact_tz
           FROM task t JOIN deal d ON d.id = t.deal_id JOIN contact c ON c.id = d.contact_id
           WHERE t.id = ?""",
        task_id,
    )
    return PressTarget(**rows[0]) if rows else None
