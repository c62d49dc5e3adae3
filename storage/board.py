"""The board's reads: totals per stage, a page of cards of one stage, what changed since.

Open deals are read through two partial indexes (migration 9, WHERE status = 'open'):
deal_board_team (team, stage, id, amount) for a supervisor's team and deal_board_stage (stage,
id, amount) for everything; both cover the totals (an index-only scan), and give a stage's cards
newest first, so a page is `id < last` in index order however many deals the stage holds. The
`status = 'open'` is written out, not a parameter: SQLite uses a partial index only for a query
whose WHERE holds the index's own term.

A filter is a small object with `where()`: SQL on the deal `d` with '?' parameters. A new filter
(a custom field, say) is one more such class; nothing else here changes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from storage.db import reading_connection
from storage.sql import placeholders


class DealFilter(Protocol):
    def where(self) -> tuple[str, tuple[Any, ...]]:
        """A condition on the deal `d` with '?' placeholders, and its parameters."""
        ...


@dataclass(frozen=True)
class OwnerIs:
    owner_id: int

    def where(self) -> tuple[str, tuple[Any, ...]]:
        return "d.owner_id = ?", (self.owner_id,)


@dataclass(frozen=True)
class TeamIs:
    team: str

    def where(self) -> tuple[str, tuple[Any, ...]]:
        return "d.team = ?", (self.team,)


@dataclass(frozen=True)
class SourceIs:
    source: str

    def where(self) -> tuple[str, tuple[Any, ...]]:
        return "d.source = ?", (self.source,)


@dataclass(frozen=True)
class TaggedWith:
    """The deal or its contact carries the tag (folded, as crm.tags keeps the index)."""

    tag: str

    def where(self) -> tuple[str, tuple[Any, ...]]:
        return (
            "(EXISTS (SELECT 1 FROM deal_tag g WHERE g.deal_id = d.id AND g.tag = ?)"
            " OR EXISTS (SELECT 1 FROM contact_tag g WHERE g.contact_id = d.contact_id"
            " AND g.tag = ?))",
            (self.tag, self.tag),
        )


@dataclass(frozen=True)
class OverdueAt:
    """The deal's open task was due before `now`."""

    now: datetime

    def where(self) -> tuple[str, tuple[Any, ...]]:
        return (
            "EXISTS (SELECT 1 FROM task t WHERE t.deal_id = d.id AND t.status = 'open'"
            " AND t.due_at < ?)",
            (self.now.astimezone(UTC),),
        )


@dataclass(frozen=True)
class AmongIds:
    """One of these deals (a search's hits)."""

    ids: tuple[int, ...]

    def where(self) -> tuple[str, tuple[Any, ...]]:
        if not self.ids:
            return "1 = 0", ()
        return f"d.id IN ({', '.join('?' for _ in self.ids)})", self.ids


def _conditions(filters: Sequence[DealFilter]) -> tuple[str, list[Any]]:
    sql, params = "", list[Any]()
    for item in filters:
        text, values = item.where()
        sql += f" AND {text}"
        params += values
    return sql, params


async def _rows(sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    conn = reading_connection()
    return list(await conn.execute_query_dict(placeholders(sql), list(params)))


async def stage_totals(
    stages: Sequence[str], filters: Sequence[DealFilter]
) -> dict[str, tuple[int, int]]:
    """(open deals, sum of their amounts) of each of these stages. Naming the stages lets
    SQLite's planner see that the board's indexes cover the query (it otherwise took the
    status index and read every open deal's row)."""
    where, params = _conditions(filters)
    marks = ", ".join("?" for _ in stages)
    rows = await _rows(
        f"""SELECT d.stage AS stage, COUNT(*) AS n, SUM(d.amount) AS total
            FROM deal d WHERE d.status = 'open' AND d.stage IN ({marks}){where}
            GROUP BY d.stage""",
        [*stages, *params],
    )
    return {r["stage"]: (int(r["n"]), int(r["total"] or 0)) for r in rows}


@dataclass(frozen=True, slots=True)
class BoardRow:
    deal_id: int
    version: int
    title: str
    amount: int
    stage: str
    owner_id: int | None
    owner_name: str
    team: str
    source: str
    tags: tuple[str, ...]  # the contact's, then the deal's, without repeats
    contact_name: str
    company: str
    task_id: int | None
    task_kind: str | None
    due_at: datetime | None
    attempt: int
    planned_by: str | None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def stage_page(
    stage: str, filters: Sequence[DealFilter], after_id: int | None, limit: int
) -> list[BoardRow]:
    """Up to `limit` open deals of the stage, newest first, older than `after_id` if given."""
    where, params = _conditions(filters)
    if after_id is not None:
        where += " AND d.id < ?"
        params.append(after_id)
    rows = await _rows(
        f"""SELECT d.id AS deal_id, d.version, d.title, d.amount, d.stage, d.owner_id,
                   e.name AS owner_name, d.team, d.source, d.tags AS deal_tags,
                   c.name AS contact_name, c.company, c.tags AS contact_tags,
                   t.id AS task_id, t.kind AS task_kind, t.due_at, t.attempt, t.planned_by
            FROM (SELECT d.id FROM deal d WHERE d.status = 'open' AND d.stage = ?{where}
                  ORDER BY d.id DESC LIMIT ?) p
            JOIN deal d ON d.id = p.id
            JOIN contact c ON c.id = d.contact_id
            LEFT JOIN task t ON t.deal_id = d.id AND t.status = 'open'
            LEFT JOIN employee e ON e.id = d.owner_id
            ORDER BY d.id DESC""",
        [stage, *params, limit],
    )
    return [_board_row(r) for r in rows]


def _board_row(r: dict[str, Any]) -> BoardRow:
    tags = [*(_json(r["contact_tags"]) or []), *(_json(r["deal_tags"]) or [])]
    return BoardRow(
        deal_id=r["deal_id"], version=r["version"], title=r["title"], amount=int(r["amount"]),
        stage=r["stage"], owner_id=r["owner_id"], owner_name=r["owner_name"] or "",
        team=r["team"], source=r["source"], tags=tuple(dict.fromkeys(tags)),
        contact_name=r["contact_name"], company=r["company"], task_id=r["task_id"],
        task_kind=r["task_kind"], due_at=_moment(r["due_at"]), attempt=r["attempt"] or 0,
        planned_by=r["planned_by"],
    )


async def deal_row(deal_id: int) -> BoardRow | None:
    """One deal as a card, open or not (the fresh state after a refused move)."""
    rows = await _rows(
        """SELECT d.id AS deal_id, d.version, d.title, d.amount, d.stage, d.owner_id,
                  e.name AS owner_name, d.team, d.source, d.tags AS deal_tags,
                  c.name AS contact_name, c.company, c.tags AS contact_tags,
                  t.id AS task_id, t.kind AS task_kind, t.due_at, t.attempt, t.planned_by
           FROM deal d JOIN contact c ON c.id = d.contact_id
           LEFT JOIN task t ON t.deal_id = d.id AND t.status = 'open'
           LEFT JOIN employee e ON e.id = d.owner_id
           WHERE d.id = ?""",
        [deal_id],
    )
    return _board_row(rows[0]) if rows else None


async def event_ids_after(after: int, limit: int) -> list[int]:
    """The visible (committed) event ids above `after`, ascending; the primary key's index."""
    rows = await _rows(
        "SELECT id FROM timeline_event WHERE id > ? ORDER BY id LIMIT ?", [after, limit]
    )
    return [int(r["id"]) for r in rows]


async def newest_event_ids(limit: int) -> list[int]:
    """The `limit` newest visible event ids, ascending."""
    rows = await _rows("SELECT id FROM timeline_event ORDER BY id DESC LIMIT ?", [limit])
    return sorted(int(r["id"]) for r in rows)


async def visible_events(ids: Sequence[int]) -> list[int]:
    """Which of these event ids are visible now."""
    if not ids:
        return []
    rows = await _rows(
        f"SELECT id FROM timeline_event WHERE id IN ({', '.join('?' for _ in ids)})", list(ids)
    )
    return [int(r["id"]) for r in rows]


async def touched(
    after: int, upto: int, also: Sequence[int], filters: Sequence[DealFilter], party: int | None
) -> bool:
    """Whether an event with id in (after, upto] or among `also` is on a deal matching the
    filters, or is an ASSIGN naming `party` as the deal's former or new owner (he is told of a
    deal given away, which his filters no longer match)."""
    where, params = _conditions(filters)
    extra = f" OR e.id IN ({', '.join('?' for _ in also)})" if also else ""
    span = f"((e.id > ? AND e.id <= ?){extra})"
    hit = await _rows(
        f"""SELECT 1 AS hit FROM timeline_event e JOIN deal d ON d.id = e.deal_id
            WHERE {span}{where} LIMIT 1""",
        [after, upto, *also, *params],
    )
    if hit or party is None:
        return bool(hit)
    moves = await _rows(
        f"SELECT e.data AS data FROM timeline_event e WHERE {span} AND e.kind = 'assign'",
        [after, upto, *also],
    )
    for row in moves:
        data = _json(row["data"]) or {}
        if party in (data.get("from"), data.get("to")):
            return True
    return False


async def team_names() -> list[str]:
    rows = await _rows(
        "SELECT DISTINCT team FROM employee WHERE active = ? ORDER BY team", [True]
    )
    return [r["team"] for r in rows]

