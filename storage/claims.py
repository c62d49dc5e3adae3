"""The contended statements, as single `UPDATE … RETURNING` claims.

A claim must hand each row to exactly one caller across processes. On PostgreSQL the inner
SELECT takes row locks with SKIP LOCKED so concurrent claimers pass each other by; SQLite has
one writer at a time, so the single statement is already atomic there. The ORM path
(select_for_update + update) was 2-6x slower on these paths and, without a lock, handed 80% of
claims out twice when measured.
"""

import json
import zlib
from dataclasses import dataclass
from datetime import datetime

from tortoise import connections
from tortoise.transactions import in_transaction

from storage.db import dialect
from storage.sql import fetch_rows, placeholders, skip_locked


@dataclass(frozen=True, slots=True)
class FeedTask:
    """A task the feed handed to a rep."""

    id: int
    deal_id: int
    assignee_id: int
    claimed: bool  # taken from the team queue just now, not one of his own


async def own_due_task(
    employee_id: int, now: datetime, *, unshown: bool = False
) -> FeedTask | None:
    """The rep's most overdue open task (the partial index task_open_by_assignee serves it);
    `unshown`: only one whose card he has not been sent since it fell due (pushed_at)."""
    rows = await fetch_rows(
        f"""SELECT id, deal_id FROM task
           WHERE assignee_id = ? AND status = 'open' AND due_at <= ?
           {"AND pushed_at IS NULL" if unshown else ""}
           ORDER BY due_at, id LIMIT 1""",
        employee_id, now,
    )
    return FeedTask(rows[0]["id"], rows[0]["deal_id"], employee_id, False) if rows else None


# PostgreSQL: the whole claim in one statement. The picked row is locked with SKIP LOCKED, so
# concurrent claimers each get another row; the deal, its contact and the timeline follow in
# the same statement (data-modifying CTEs), one round trip instead of eight.
_CLAIM_PG = """
WITH picked AS (
    SELECT id, deal_id FROM task
    WHERE status = 'open' AND assignee_id IS NULL AND team = $2
    ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE task t SET assignee_id = $1 FROM picked WHERE t.id = picked.id
    RETURNING t.id, t.deal_id
), owned AS (
    UPDATE deal d SET owner_id = $1, version = d.version + 1 FROM claimed
    WHERE d.id = claimed.deal_id RETURNING d.id, d.contact_id
), contact AS (
    UPDATE contact c SET owner_id = $1 FROM owned
    WHERE c.id = owned.contact_id AND c.owner_id IS NULL
), logged AS (
    INSERT INTO timeline_event (deal_id, kind, text, data, actor_id, at)
    SELECT id, 'assign', '', jsonb_build_object('from', NULL, 'to', $1::int), $1, $3 FROM owned
)
SELECT id, deal_id FROM claimed
"""


async def claim_queued_task(employee_id: int, team: str, now: datetime) -> FeedTask | None:
    """Give the oldest unassigned open task of a team, with its deal, to one employee."""
    conn = connections.get("default")
    if dialect() == "postgres":
        rows = await conn.execute_query_dict(_CLAIM_PG, [employee_id, team, now])
    else:
        # SQLite has one writer, so the statements need no lock, only one transaction; the
        # conditional UPDATE comes first so the transaction never reads before it writes.
        async with in_transaction() as tx:
            rows = await tx.execute_query_dict(
                """UPDATE task SET assignee_id = ?
                   WHERE id = (SELECT id FROM task
                               WHERE status = 'open' AND assignee_id IS NULL AND team = ?
                               ORDER BY created_at, id LIMIT 1)
                   RETURNING id, deal_id""",
                [employee_id, team],
            )
            if rows:
                deal_id = rows[0]["deal_id"]
                await tx.execute_query(
                    "UPDATE deal SET owner_id = ?, version = version + 1 WHERE id = ?",
                    [employee_id, deal_id],
                )
                await tx.execute_query(
                    """UPDATE contact SET owner_id = ?
                       WHERE id = (SELECT contact_id FROM deal WHERE id = ?)
                         AND owner_id IS NULL""",
                    [employee_id, deal_id],
                )
                await tx.execute_query(
                    """INSERT INTO timeline_event (deal_id, kind, text, data, actor_id, at)
                       VALUES (?, 'assign', '', ?, ?, ?)""",
                    [deal_id, json.dumps({"from": None, "to": employee_id}), employee_id, now],
                )
    if not rows:
        return None
    return FeedTask(rows[0]["id"], rows[0]["deal_id"], employee_id, True)


async def claim_due_pushes(now: datetime, limit: int) -> list[tuple[int, int]]:
    """Mark up to `limit` due, unpushed, assigned tasks as pushed; (task id, assignee id) each.
    Those of an employee who blocked the bot wait unclaimed until he is reachable again.

    The database is the truth: whatever process claims a row pushes it, once, also after a
    restart (a task that fell due while we were down is simply still unpushed).
    """
    # The due rows are picked once, in a materialized CTE: as an IN (sub-select) PostgreSQL
    # may rescan the locking sub-select and claim past the LIMIT (210 of 200 seen in a test).
    rows = await fetch_rows(
        f"""WITH due AS {"MATERIALIZED" if dialect() == "postgres" else ""} (
                SELECT id FROM task
                WHERE status = 'open' AND pushed_at IS NULL AND due_at <= ?
                  AND assignee_id IS NOT NULL
                  AND assignee_id NOT IN (SELECT id FROM employee WHERE reachable = FALSE)
                ORDER BY due_at LIMIT ? {skip_locked()})
            UPDATE task SET pushed_at = ?
            WHERE id IN (SELECT id FROM due) AND pushed_at IS NULL
            RETURNING id, assignee_id""",
        now, limit, now,
    )
    return [(int(r["id"]), int(r["assignee_id"])) for r in rows]


async def mark_shown(task_id: int, now: datetime) -> bool:
    """A due task's card was handed to its rep another way than the due push (a new lead's card,
    /next, a reassigned deal): the push is not sent again. True if this call marked it."""
    rows = await fetch_rows(
        """UPDATE task SET pushed_at = ?
           WHERE id = ? AND status = 'open' AND pushed_at IS NULL AND due_at <= ?
           RETURNING id""",
        now, task_id, now,
    )
    return bool(rows)


async def release_push(task_id: int) -> None:
    """Undo a claim whose message could not be sent, so the next tick tries again."""
    await fetch_rows("UPDATE task SET pushed_at = NULL WHERE id = ? RETURNING id", task_id)


# The rep of a team who gets the next lead, moved behind everybody in the same statement. Leads
# of a team arriving at once take turns strictly one after the other: SQLite's one writer makes
# the statement atomic; on PostgreSQL a transaction lock per team serializes it (row locks do
# not: SKIP LOCKED passed the rep being served to the next in line, who then got two leads in a
# row, and a plain FOR UPDATE re-checks the waited-for row without ordering again). A rep's
# load (least_loaded) is counted by the partial index task_open_by_assignee.
_TAKE_TURN = """
UPDATE employee SET lead_turn = (SELECT MAX(lead_turn) FROM employee WHERE team = ?) + 1
WHERE id = (
    SELECT e.id FROM employee e
    WHERE e.team = ? AND e.role = 'rep' AND e.active = TRUE AND e.on_shift = TRUE
      AND e.reachable = TRUE
    ORDER BY {load} e.lead_turn, e.id LIMIT 1)
RETURNING id
"""
_LOAD = "(SELECT COUNT(*) FROM task t WHERE t.assignee_id = e.id AND t.status = 'open'),"


async def take_lead_turn(team: str, *, least_loaded: bool) -> int | None:
    """The id of the rep (on shift, reachable) who gets the next lead of `team`: the one longest
    without a lead, or the least loaded; None when nobody can take it."""
    sql = _TAKE_TURN.format(load=_LOAD if least_loaded else "")
    if dialect() != "postgres":
        rows = await fetch_rows(sql, team, team)
    else:
        key = zlib.crc32(b"nextstep lead turn:" + team.encode())
        async with in_transaction() as tx:
            await tx.execute_query("SELECT pg_advisory_xact_lock($1)", [key])
            rows = await tx.execute_query_dict(placeholders(sql), [team, team])
    return int(rows[0]["id"]) if rows else None


async def claim_escalations(now: datetime, limit: int = 200) -> list[tuple[int, int, str]]:
    """Clear escalate_at of up to `limit` leads whose time came (each exactly once across
    processes); (task id, deal id, team) of those still open and unassigned."""
    rows = await fetch_rows(
        f"""WITH due AS {"MATERIALIZED" if dialect() == "postgres" else ""} (
                SELECT id FROM task WHERE escalate_at IS NOT NULL AND escalate_at <= ?
                ORDER BY escalate_at LIMIT ? {skip_locked()})
            UPDATE task SET escalate_at = NULL
            WHERE id IN (SELECT id FROM due) AND escalate_at IS NOT NULL
            RETURNING id, deal_id, team, status, assignee_id""",
        now, limit,
    )
    return [
        (int(r["id"]), int(r["deal_id"]), str(r["team"])) for r in rows
        if r["status"] == "open" and r["assignee_id"] is None
    ]


async def reserve_ids(table: str, count: int) -> list[int]:
    """Primary keys for `count` rows a bulk insert will write (executemany returns no ids).

    Call inside the transaction that inserts them. PostgreSQL hands out the sequence values, safe
    across processes. SQLite has one writer: the no-op UPDATE takes the write lock before MAX is
    read, so no other process can insert between the read and our insert.
    """
    if count <= 0:
        return []
    if dialect() == "postgres":
        rows = await fetch_rows(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id "
            "FROM generate_series(1, ?)",
            count,
        )
        return [int(r["id"]) for r in rows]
    conn = connections.get("default")
    await conn.execute_query(f"UPDATE {table} SET id = id WHERE id < 0")
    rows = await fetch_rows(f"SELECT COALESCE(MAX(id), 0) AS top FROM {table}")
    top = int(rows[0]["top"])
    return list(range(top + 1, top + 1 + count))

