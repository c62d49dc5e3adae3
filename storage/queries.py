"""The contended statements, as single `UPDATE … RETURNING` claims.

A claim must hand each row to exactly one caller across processes. On PostgreSQL the inner
SELECT takes row locks with SKIP LOCKED so concurrent claimers pass each other by; SQLite has
one writer at a time, so the single statement is already atomic there. The ORM path
(select_for_update + update) was 2-6x slower on these paths and, without a lock, handed 80% of
claims out twice when measured.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from storage.db import dialect
from storage.models import Employee


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
    rows = await _rows(
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


async def claim_due_pushes(
    now: datetime, limit: int, hold_until: datetime | None = None
) -> list[tuple[int, int]]:
    """Mark up to `limit` due, unpushed, assigned tasks as pushed; (task id, assignee id) each.
    Those of an employee who blocked the bot wait unclaimed until he is reachable again.
    `hold_until` (wall time): the claim's end unless confirm_push() comes first.

    The database is the truth: whatever process claims a row pushes it, once, also after a
    restart (a task that fell due while we were down is simply still unpushed).
    """
    # The due rows are picked once, in a materialized CTE: as an IN (sub-select) PostgreSQL
    # may rescan the locking sub-select and claim past the LIMIT (210 of 200 seen in a test).
    rows = await _rows(
        f"""WITH due AS {"MATERIALIZED" if dialect() == "postgres" else ""} (
                SELECT id FROM task
                WHERE status = 'open' AND pushed_at IS NULL AND due_at <= ?
                  AND assignee_id IS NOT NULL
                  AND assignee_id NOT IN (SELECT id FROM employee WHERE reachable = FALSE)
                ORDER BY due_at LIMIT ? {_lock()})
            UPDATE task SET pushed_at = ?, push_claim = ?
            WHERE id IN (SELECT id FROM due) AND pushed_at IS NULL
            RETURNING id, assignee_id""",
        now, limit, now, hold_until,
    )
    return [(int(r["id"]), int(r["assignee_id"])) for r in rows]


async def confirm_push(task_id: int) -> None:
    """The due push went out: its claim is settled for good."""
    await _rows("UPDATE task SET push_claim = NULL WHERE id = ? RETURNING id", task_id)


async def renew_push_claims(task_ids: list[int], hold_until: datetime) -> None:
    """The pushes are still being sent: hold their claims longer (unless settled meanwhile)."""
    marks = ", ".join("?" * len(task_ids))
    await _rows(
        f"UPDATE task SET push_claim = ? WHERE id IN ({marks}) AND push_claim IS NOT NULL "
        "RETURNING id",
        hold_until, *task_ids,
    )


async def expired_push_claims(wall_now: datetime, limit: int = 200) -> list[int]:
    """Put back the pushes whose worker died while sending them (claims that ran out); their
    ids. Several workers may run it: each row goes back once."""
    rows = await _rows(
        f"""WITH lost AS {"MATERIALIZED" if dialect() == "postgres" else ""} (
                SELECT id FROM task WHERE push_claim IS NOT NULL AND push_claim < ?
                LIMIT ? {_lock()})
            UPDATE task SET pushed_at = NULL, push_claim = NULL
            WHERE id IN (SELECT id FROM lost) AND push_claim IS NOT NULL
            RETURNING id""",
        wall_now, limit,
    )
    return [int(r["id"]) for r in rows]


async def mark_shown(task_id: int, now: datetime) -> bool:
    """A due task's card was handed to its rep another way than the due push (a new lead's card,
    /next, a reassigned deal): the push is not sent again. True if this call marked it."""
    rows = await _rows(
        """UPDATE task SET pushed_at = ?
           WHERE id = ? AND status = 'open' AND pushed_at IS NULL AND due_at <= ?
           RETURNING id""",
        now, task_id, now,
    )
    return bool(rows)


async def release_push(task_id: int) -> None:
    """Undo a claim whose message could not be sent, so the next tick tries again."""
    await _rows(
        "UPDATE task SET pushed_at = NULL, push_claim = NULL WHERE id = ? RETURNING id", task_id
    )


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
        rows = await _rows(sql, team, team)
    else:
        key = zlib.crc32(b"nextstep lead turn:" + team.encode())
        async with in_transaction() as tx:
            await tx.execute_query("SELECT pg_advisory_xact_lock($1)", [key])
            rows = await tx.execute_query_dict(_params(sql), [team, team])
    return int(rows[0]["id"]) if rows else None


async def claim_escalations(now: datetime, limit: int = 200) -> list[tuple[int, int, str]]:
    """Clear escalate_at of up to `limit` leads whose time came (each exactly once across
    processes); (task id, deal id, team) of those still open and unassigned."""
    rows = await _rows(
        f"""WITH due AS {"MATERIALIZED" if dialect() == "postgres" else ""} (
                SELECT id FROM task WHERE escalate_at IS NOT NULL AND escalate_at <= ?
                ORDER BY escalate_at LIMIT ? {_lock()})
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
    rows = await _rows(
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


async def call_sides(
    caller: str, callee: str, caller_e164: str | None, callee_e164: str | None
) -> CallSides | None:
    """The active employee whose extension is a side of a call (the caller when both are) and
    the far side's client for him (call_target), in one statement: every captured call asks,
    and on SQLite's one connection each statement is a round trip through its thread. None
    when neither side is an employee's."""
    conn = connections.get("default")
    found = await conn.executor_class(model=Employee, db=conn).execute_select(
        _params(
            f"""SELECT e.*, e.sip_ext = ? AS to_outbound, {_TARGET_COLUMNS}
               FROM employee e
               LEFT JOIN contact_phone p ON p.e164 = CASE WHEN e.sip_ext = ? THEN ? ELSE ? END
               {_TARGET_JOINS.format(agent="e.id", team="e.team")}
               WHERE e.sip_ext IN (?, ?) AND e.active = ?
               ORDER BY CASE WHEN e.sip_ext = ? THEN 0 ELSE 1 END,
                        {_TARGET_ORDER.format(agent="e.id")}
               LIMIT 1"""
        ),
        [caller, caller, callee_e164, caller_e164, caller, callee, True, caller],
        custom_fields=["to_outbound", *_TARGET_FIELDS],
    )
    if not found:
        return None
    agent = found[0]
    # The columns execute_select set on the instance leave it: it is a plain Employee.
    row = {f: agent.__dict__.pop(f) for f in ["to_outbound", *_TARGET_FIELDS]}
    return CallSides(agent, bool(row["to_outbound"]), _call_target(row))


@dataclass(frozen=True, slots=True)
class EventRow:
    at: datetime
    kind: str
    text: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CardRow:
    """What a card shows, read in one statement: the task (absent for a deal alone), its deal
    and contact, the contact's phones in the order added and the deal's latest events."""

    deal_id: int
    stage: str
    deal_status: str
    amount: int
    tags: tuple[str, ...]  # the contact's, then the deal's, without repeats
    contact_name: str
    company: str
    contact_tz: str | None
    phones: tuple[str, ...]
    events: tuple[EventRow, ...]  # newest first
    task_id: int | None
    task_kind: str | None
    task_status: str | None
    due_at: datetime | None
    attempt: int
    planned_by: str | None


# The phones and the events come as JSON arrays from correlated sub-selects (one round trip
# instead of four ORM queries, whose building cost more CPU than running them); their order
# is restored here from the ids, as an aggregate's order is not guaranteed.
_CARD_SELECT = {
    "sqlite": """
SELECT d.id AS deal_id, d.stage, d.status AS deal_status, d.amount, d.tags AS deal_tags,
       c.name AS contact_name, c.company, c.tz AS contact_tz, c.tags AS contact_tags,
       (SELECT json_group_array(json_array(p.id, p.e164))
        FROM contact_phone p WHERE p.contact_id = c.id) AS phones,
       (SELECT json_group_array(json_object('id', e.id, 'at', e.at, 'kind', e.kind,
                                            'text', e.text, 'data', json(e.data)))
        FROM (SELECT id, at, kind, text, data FROM timeline_event WHERE deal_id = d.id
              ORDER BY at DESC, id DESC LIMIT ?) e) AS events,
       t.id AS task_id, t.kind AS task_kind, t.status AS task_status, t.due_at, t.attempt,
       t.planned_by""",
    "postgres": """
SELECT d.id AS deal_id, d.stage, d.status AS deal_status, d.amount, d.tags AS deal_tags,
       c.name AS contact_name, c.company, c.tz AS contact_tz, c.tags AS contact_tags,
       (SELECT json_agg(json_build_array(p.id, p.e164))
        FROM contact_phone p WHERE p.contact_id = c.id) AS phones,
       (SELECT json_agg(json_build_object('id', e.id, 'at', e.at, 'kind', e.kind,
                                          'text', e.text, 'data', e.data))
        FROM (SELECT id, at, kind, text, data FROM timeline_event WHERE deal_id = d.id
              ORDER BY at DESC, id DESC LIMIT ?) e) AS events,
       t.id AS task_id, t.kind AS task_kind, t.status AS task_status, t.due_at, t.attempt,
       t.planned_by""",
}


def _json(value: Any) -> Any:
    """A JSON column or aggregate: text on SQLite and from asyncpg, None when empty."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _moment(value: datetime | str) -> datetime:
    """A stored moment as an aware UTC datetime (SQLite and JSON give ISO text)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _card_row(row: dict[str, Any]) -> CardRow:
    phones = sorted(_json(row["phones"]) or [])
    events = sorted(
        _json(row["events"]) or [], key=lambda e: (_moment(e["at"]), e["id"]), reverse=True
    )
    tags = [*(_json(row["contact_tags"]) or []), *(_json(row["deal_tags"]) or [])]
    return CardRow(
        deal_id=row["deal_id"],
        stage=row["stage"],
        deal_status=row["deal_status"],
        amount=row["amount"],
        tags=tuple(dict.fromkeys(tags)),
        contact_name=row["contact_name"],
        company=row["company"],
        contact_tz=row["contact_tz"],
        phones=tuple(str(e164) for _, e164 in phones),
        events=tuple(
            EventRow(_moment(e["at"]), e["kind"], e["text"] or "", _json(e["data"]) or {})
            for e in events
        ),
        task_id=row["task_id"],
        task_kind=row["task_kind"],
        task_status=row["task_status"],
        due_at=_moment(row["due_at"]) if row["due_at"] is not None else None,
        attempt=row["attempt"] or 0,
        planned_by=row["planned_by"],
    )


async def card_of_task(task_id: int, events: int) -> CardRow | None:
    """The card of one task, open or closed, with the deal's `events` latest events."""
    rows = await _rows(
        _CARD_SELECT[dialect()]
        + """
           FROM task t JOIN deal d ON d.id = t.deal_id JOIN contact c ON c.id = d.contact_id
           WHERE t.id = ?""",
        events, task_id,
    )
    return _card_row(rows[0]) if rows else None


async def card_of_deal(deal_id: int, events: int) -> CardRow | None:
    """The card of a deal with its open task (a deal has at most one), or of the deal alone."""
    rows = await _rows(
        _CARD_SELECT[dialect()]
        + """
           FROM deal d JOIN contact c ON c.id = d.contact_id
           LEFT JOIN task t ON t.deal_id = d.id AND t.status = 'open'
           WHERE d.id = ?""",
        events, deal_id,
    )
    return _card_row(rows[0]) if rows else None


async def active_employee_by_tg(tg_id: int) -> Employee | None:
    """The active employee with this Telegram id: every update asks, so the statement is
    written out (the ORM spent more CPU building the query than the store running it)."""
    conn = connections.get("default")
    found = await conn.executor_class(model=Employee, db=conn).execute_select(
        _params("SELECT * FROM employee WHERE tg_id = ? AND active = ?"), [tg_id, True]
    )
    return found[0] if found else None
