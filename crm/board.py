"""The pipeline board: a column per open stage with its count and sum, its cards a page at a
time, filters and search, and what changed since the board was read.

Who sees what is crm.permissions' Scope, applied as the first filter of every read. Moves and
the detail are crm/board_actions.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from config.playbook import Playbook
from crm import fields
from crm.context import Crm
from crm.engine import ladder_size
from crm.ids import parse_id
from crm.permissions import Scope, scope_of, team_visible
from crm.search import find_deals
from crm.tags import fold
from storage import board as store
from storage.board import (
    AmongIds,
    BoardRow,
    DealFilter,
    OverdueAt,
    OwnerIs,
    SourceIs,
    TaggedWith,
    TeamIs,
)
from storage.models import Employee, Role

PAGE = 30  # cards per column per request
SEARCH_LIMIT = 200  # deals a search puts on the board


@dataclass(frozen=True)
class Card:
    deal_id: int
    task_id: int | None
    version: int
    stage: str
    title: str
    client: str
    company: str
    amount: int
    tags: tuple[str, ...]
    owner_id: int | None
    owner_name: str
    task_kind: str | None
    due_at: datetime | None
    overdue: bool
    attempt: int  # the coming attempt of attempt_size on the no-answer ladder; else 0
    attempt_size: int


@dataclass(frozen=True)
class Column:
    stage: str
    count: int
    amount: int
    cards: tuple[Card, ...]
    more: int | None  # the `after` for the next page, None when this was the last


@dataclass(frozen=True)
class Board:
    columns: tuple[Column, ...]
    version: Watermark  # the events read: poll changes(since=version)


class FilterError(ValueError):
    """A filter the viewer may not use or that does not parse; the message names it."""


def open_stages(playbook: Playbook) -> list[str]:
    return [s.key for s in playbook.stages if s.terminal is None]


def scope_filters(scope: Scope) -> list[DealFilter]:
    found: list[DealFilter] = []
    if scope.owner_id is not None:
        found.append(OwnerIs(scope.owner_id))
    if scope.team is not None:
        found.append(TeamIs(scope.team))
    return found


# Filters by query parameter: (value, viewer, crm) -> the filter. A new filter (a custom field)
# is one more entry; a parser raises FilterError for a value it cannot take.
def _rep(value: str, viewer: Employee, crm: Crm) -> DealFilter:
    rep = parse_id(value)
    if rep is None:
        raise FilterError("rep")
    return OwnerIs(rep)


def _team(value: str, viewer: Employee, crm: Crm) -> DealFilter:
    # A team the viewer may not look at is refused, not shown empty.
    if not team_visible(viewer, value):
        raise FilterError("team")
    return TeamIs(value)


def _overdue(value: str, viewer: Employee, crm: Crm) -> DealFilter:
    if value not in ("1", "true"):
        raise FilterError("overdue")
    return OverdueAt(crm.now())


FIELD_PARAM = "field."
FILTERS = {
    "rep": _rep,
    "team": _team,
    "tag": lambda value, viewer, crm: TaggedWith(fold(value.lstrip("#"))),
    "source": lambda value, viewer, crm: SourceIs(value),
    "overdue": _overdue,
}


async def board_filters(
    crm: Crm, viewer: Employee, params: Mapping[str, str]
) -> list[DealFilter]:
    """The viewer's scope, then the filters asked for (empty values ignored), then the search
    `q` (found as /find finds, among the deals the viewer may see)."""
    scope = scope_of(viewer)
    if scope is None:
        raise FilterError("scope")
    found = scope_filters(scope)
    for name, parse in FILTERS.items():
        value = params.get(name, "").strip()
        if value:
            found.append(parse(value, viewer, crm))
    for name, value in params.items():  # field.<key>=<value>: a custom field (crm.fields)
        if name.startswith(FIELD_PARAM) and value.strip():
            held = fields.board_filter(crm.playbook, name.removeprefix(FIELD_PARAM), value,
                                       crm.now())
            if held is None:
                raise FilterError(name)
            found.append(held)
    query = params.get("q", "").strip()
    if query:
        deals = await find_deals(query, viewer, limit=SEARCH_LIMIT, crm=crm)
        found.append(AmongIds(tuple(d.id for d in deals)))
    return found


def _ladder(playbook: Playbook, row: BoardRow) -> str | None:
    """The no-answer ladder the card's attempts count on, as the chat's card counts them: the
    one that planned the task, or for a deal's first task the one its stage offers."""
    planner = playbook.buttons.get(row.planned_by) if row.planned_by else None
    if planner is not None:
        return row.planned_by if planner.ladder else None
    return playbook.ladder_offered(row.stage)


def card_of(playbook: Playbook, row: BoardRow, now: datetime) -> Card:
    ladder = _ladder(playbook, row) if row.task_id is not None else None
    size = ladder_size(playbook, ladder) if ladder else 0
    return Card(
        deal_id=row.deal_id, task_id=row.task_id, version=row.version, stage=row.stage,
        title=row.title, client=row.contact_name, company=row.company, amount=row.amount,
        tags=row.tags, owner_id=row.owner_id, owner_name=row.owner_name,
        task_kind=row.task_kind, due_at=row.due_at,
        overdue=row.due_at is not None and row.due_at < now,
        attempt=row.attempt + 1 if size else 0, attempt_size=size,
    )


async def column(
    crm: Crm, stage: str, filters: Sequence[DealFilter], after: int | None = None,
    limit: int = PAGE,
) -> tuple[tuple[Card, ...], int | None]:
    """A page of the stage's cards and the `after` of the next page (None: no more)."""
    rows = await store.stage_page(stage, filters, after, limit + 1)
    now = crm.now()
    cards = tuple(card_of(crm.playbook, r, now) for r in rows[:limit])
    return cards, (cards[-1].deal_id if len(rows) > limit else None)


async def load_board(crm: Crm, filters: Sequence[DealFilter], limit: int = PAGE) -> Board:
    """Every open stage with its totals and first page. The version is read first: a change
    landing while the rest is read shows on the next poll rather than never."""
    version = await fresh_mark(crm)
    stages = open_stages(crm.playbook)
    totals = await store.stage_totals(stages, filters)
    columns = []
    for stage in stages:
        count, amount = totals.get(stage, (0, 0))
        cards, more = await column(crm, stage, filters, None, limit) if count else ((), None)
        columns.append(Column(stage, count, amount, cards, more))
    return Board(tuple(columns), version)


# The version a board polls with. Event ids are handed out at INSERT but become visible at
# COMMIT, so when id 8 is seen, id 7 may still be in flight and show up later: MAX(id) alone
# would pass it by for good. A Watermark keeps the ids under `top` that were not visible when
# read (gaps), and each poll looks at them again with the ids above `top`. A gap that stays
# away for GAP_SECONDS was a rolled-back insert (no transaction of ours lasts that long); one
# past MAX_GAPS lowers `top` instead, so its ids are read again (at worst a spare reload).
SCAN = 1000  # visible ids read per poll past `top`; more than that: the board is read again
MAX_GAPS = 32
GAP_SECONDS = 120
LOAD_WINDOW = 200  # at load, the ids below the newest this many are taken as settled


@dataclass(frozen=True)
class Watermark:
    top: int  # every event id <= top was read, or is one of the gaps
    gaps: tuple[tuple[int, int], ...] = ()  # (event id, unix second first missed) under top


async def _advance(crm: Crm, mark: Watermark, ids: Sequence[int]) -> tuple[Watermark, list[int]]:
    """The watermark past these visible ids (ascending, all above mark.top), and the gaps of
    the old one that are visible now."""
    now = int(crm.now().timestamp())
    back = set(await store.visible_events([g for g, _ in mark.gaps]))
    gaps = [(g, t) for g, t in mark.gaps if g not in back and now - t < GAP_SECONDS]
    top = mark.top
    for visible in ids:  # the missing ids between, no more than can be kept
        gaps += [(i, now) for i in range(top + 1, min(visible, top + 2 + MAX_GAPS))]
        if len(gaps) > MAX_GAPS:
            break
        top = visible
    if len(gaps) > MAX_GAPS:
        gaps.sort()
        top, gaps = gaps[MAX_GAPS][0] - 1, gaps[:MAX_GAPS]
    return Watermark(top, tuple(gaps)), sorted(back)


async def fresh_mark(crm: Crm) -> Watermark:
    """The watermark of a board read now."""
    ids = await store.newest_event_ids(LOAD_WINDOW)
    mark, _ = await _advance(crm, Watermark(ids[0] - 1 if ids else 0), ids)
    return mark


async def changes(crm: Crm, viewer: Employee, since: Watermark) -> tuple[Watermark, bool]:
    """The watermark now and whether an event after `since` is on a deal the viewer may see,
    or gave one of his deals away (it no longer is in his scope, yet must leave his board)."""
    scope = scope_of(viewer)
    if scope is None:
        return since, False
    ids = await store.event_ids_after(since.top, SCAN)
    if len(ids) == SCAN:  # long asleep: a fresh read beats catching up a page per poll
        return await fresh_mark(crm), True
    mark, back = await _advance(crm, since, ids)
    if mark.top <= since.top and not back:
        return mark, False
    changed = await store.touched(
        since.top, mark.top, back, scope_filters(scope), viewer.id
    )
    return mark, changed


async def reps_for(viewer: Employee, team: str) -> list[tuple[int, str]]:
    """(id, name) of the team's active reps, to filter the board by: for whom may see it."""
    if not team_visible(viewer, team):
        return []
    found = await Employee.filter(role=Role.REP, team=team, active=True).order_by("name")
    return [(e.id, e.name) for e in found]


async def teams_for(viewer: Employee) -> list[str]:
    """The teams the viewer may switch the board to."""
    if viewer.role == Role.ADMIN:
        return await store.team_names()
    return [viewer.team] if team_visible(viewer, viewer.team) else []
