"""The board's JSON: the domain's objects as the page reads them. Labels come in the viewer's
language from the playbook (as the admin edited it); times are ISO UTC, shown by the page in
the viewer's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.playbook import Playbook
from crm.board import Board, Card, Column
from crm.board_actions import Detail, MoveResult
from crm.reports import FunnelStage
from storage.models import Employee


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def card(c: Card) -> dict[str, Any]:
    return {
        "id": c.deal_id, "task": c.task_id, "version": c.version, "stage": c.stage,
        "title": c.title, "client": c.client, "company": c.company, "amount": c.amount,
        "tags": list(c.tags), "owner": c.owner_id, "owner_name": c.owner_name,
        "kind": c.task_kind, "due": _iso(c.due_at), "overdue": c.overdue,
        "attempt": c.attempt, "attempts": c.attempt_size,
    }


def column(col: Column) -> dict[str, Any]:
    return {
        "stage": col.stage, "count": col.count, "amount": col.amount,
        "cards": [card(c) for c in col.cards], "more": col.more,
    }


def board(b: Board) -> dict[str, Any]:
    """The columns; the API adds the board's version, sealed (board.version)."""
    return {"columns": [column(c) for c in b.columns]}


def _reachable(playbook: Playbook) -> set[str]:
    """Stages some outcome leads to: where a card may be dropped."""
    return {b.next_stage for b in playbook.buttons.values() if b.next_stage and not b.ladder}


def labels(
    playbook: Playbook, lang: str, viewer: Employee, zone: str, teams: list[str],
    reps: list[tuple[int, str]],
) -> dict[str, Any]:
    """What the page needs once: stages, labels, who the viewer is and what he may switch to."""
    reachable = _reachable(playbook)
    return {
        "lang": lang,
        "zone": zone,
        "me": {"id": viewer.id, "name": viewer.name, "role": str(viewer.role),
               "team": viewer.team},
        "stages": [
            {"key": s.key, "name": s.name.get(lang), "color": s.color, "terminal": s.terminal,
             "drop": s.terminal is None or s.key in reachable}
            for s in playbook.stages
        ],
        "buttons": {k: b.label.get(lang) for k, b in playbook.buttons.items()},
        "reasons": {k: r.get(lang) for k, r in playbook.reasons.items()},
        "kinds": {k: v.get(lang) for k, v in playbook.task_kinds.items()},
        "teams": teams,
        "reps": [{"id": i, "name": n} for i, n in reps],
    }


def funnel(steps: tuple[FunnelStage, ...]) -> list[dict[str, Any]]:
    return [
        {"stage": s.stage, "entered": s.entered, "amount": s.amount, "conversion": s.conversion}
        for s in steps
    ]


def move(result: MoveResult) -> dict[str, Any]:
    """A refusal says only that: no card, nothing of a deal that is not the viewer's."""
    if result.refusal is not None or result.status == "refused":
        return {"status": "refused"}
    return {
        "status": str(result.status),
        "card": card(result.card) if result.card else None,
        "button": result.button,
        "slots": [{"at": _iso(s.start), "tasks": s.tasks} for s in result.slots],
        "offered": _iso(result.offered),
        "why": result.why,
        "reasons": list(result.reasons),
        "fields": list(result.fields),
    }


def detail(d: Detail) -> dict[str, Any]:
    row = d.row
    return {
        "card": card(d.card),
        "contact": {"name": row.contact_name, "company": row.company, "phones": list(row.phones),
                    "tz": row.contact_tz},
        "timeline": [
            {"at": _iso(e.at), "kind": e.kind, "text": e.text, "data": e.data}
            for e in row.events
        ],
        "buttons": list(d.buttons),
        "reps": [{"id": i, "name": n} for i, n in d.reps],
    }
