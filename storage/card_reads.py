"""What a card shows, read in one statement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.db import dialect
from storage.sql import fetch_rows


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
    rows = await fetch_rows(
        _CARD_SELECT[dialect()]
        + """
           FROM task t JOIN deal d ON d.id = t.deal_id JOIN contact c ON c.id = d.contact_id
           WHERE t.id = ?""",
        events, task_id,
    )
    return _card_row(rows[0]) if rows else None


async def card_of_deal(deal_id: int, events: int) -> CardRow | None:
    """The card of a deal with its open task (a deal has at most one), or of the deal alone."""
    rows = await fetch_rows(
        _CARD_SELECT[dialect()]
        + """
           FROM deal d JOIN contact c ON c.id = d.contact_id
           LEFT JOIN task t ON t.deal_id = d.id AND t.status = 'open'
           WHERE d.id = ?""",
        events, deal_id,
    )
    return _card_row(rows[0]) if rows else None

