"""Who may see or act on which deal: a rep his own, a supervisor his team's, an admin all.

The one rule for every surface (bot buttons and commands, the SIP auto-press, later the board):
`can_act_on` for a deal already loaded, `deal_access` for a task or deal named by an id that
came from outside (callback data can be forged and ids are sequential).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from storage.models import Deal, Employee, EventKind, Role, TimelineEvent
from storage.targets import deal_of_task

# What each role may do beyond the one below it (a supervisor is also a rep of his team).
_RANK = {Role.REP: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


def can_act_on(actor: Employee, owner_id: int | None, team: str) -> bool:
    if not actor.active:
        return False
    if actor.role == Role.ADMIN:
        return True
    if actor.role == Role.SUPERVISOR:
        return actor.team == team
    return owner_id == actor.id


def has_role(actor: Employee | None, needs: Role) -> bool:
    """The actor is active staff of at least `needs` (an admin may do what a supervisor may)."""
    return actor is not None and actor.active and _RANK[actor.role] >= _RANK[needs]


def team_visible(viewer: Employee, team: str | None) -> bool:
    """May the viewer look at a team as a whole (its board, reps, funnel)? An admin any team
    or all of them (None), a supervisor his own, a rep none."""
    if not has_role(viewer, Role.SUPERVISOR):
        return False
    return viewer.role == Role.ADMIN or team == viewer.team


@dataclass(frozen=True)
class Scope:
    """The deals a viewer may see, as a list rather than a test of one deal: his own (owner_id),
    his team's (team), or every deal (neither). Lists (the board) filter by it."""

    owner_id: int | None = None
    team: str | None = None


def scope_of(viewer: Employee) -> Scope | None:
    """can_act_on as a Scope; None for who may see no deal at all."""
    if not viewer.active:
        return None
    if viewer.role == Role.ADMIN:
        return Scope()
    if viewer.role == Role.SUPERVISOR:
        return Scope(team=viewer.team)
    return Scope(owner_id=viewer.id)


class Refusal(enum.StrEnum):
    NOT_STAFF = "not_staff"  # a client or a stranger pressed a staff button
    ROLE = "role"            # the employee's role may not do this at all
    GONE = "gone"            # no such task or deal
    NOT_YOURS = "not_yours"  # another rep's deal, or another team's
    MOVED = "moved"          # the viewer's deal once, given to someone else since


@dataclass(frozen=True)
class Access:
    deal: Deal | None
    refusal: Refusal | None = None
    deal_id: int | None = None  # the deal named, also when refused (for the log)
    owner_name: str = ""  # who has the deal now, when MOVED

    @property
    def allowed(self) -> bool:
        return self.refusal is None


async def deal_access(
    viewer: Employee | None,
    *,
    task_id: int | None = None,
    deal_id: int | None = None,
    needs: Role = Role.REP,
) -> Access:
    """May `viewer` see and act on the deal of this task (or this deal)? With neither id, only
    the role is checked. A refusal says why, so the viewer is told something true."""
    if viewer is None or not viewer.active:
        return Access(None, Refusal.NOT_STAFF)
    if not has_role(viewer, needs):
        return Access(None, Refusal.ROLE)
    deal = None
    if task_id is not None:
        deal = await deal_of_task(task_id)
        if deal is None or (deal_id is not None and deal.id != deal_id):
            return Access(None, Refusal.GONE)
    elif deal_id is not None:
        deal = await Deal.get_or_none(id=deal_id)
        if deal is None:
            return Access(None, Refusal.GONE)
    else:
        return Access(None)
    if can_act_on(viewer, deal.owner_id, deal.team):  # type: ignore[attr-defined]
        return Access(deal, deal_id=deal.id)
    if await _was_owner(viewer, deal):
        owner_id: int | None = deal.owner_id  # type: ignore[attr-defined]
        owner = await Employee.get_or_none(id=owner_id) if owner_id else None
        return Access(None, Refusal.MOVED, deal.id, owner.name if owner else "")
    return Access(None, Refusal.NOT_YOURS, deal.id)


async def _was_owner(viewer: Employee, deal: Deal) -> bool:
    """The deal was given away from the viewer (an ASSIGN event from him): read only on a
    refusal, and a deal changes hands a few times at most."""
    moves = await TimelineEvent.filter(deal_id=deal.id, kind=EventKind.ASSIGN).values_list(
        "data", flat=True
    )
    return any(isinstance(m, dict) and m.get("from") == viewer.id for m in moves)
