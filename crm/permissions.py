"""Who may act on which deal: a rep on his own, a supervisor on his team's, an admin on all."""

from __future__ import annotations

from storage.models import Employee, Role


def can_act_on(actor: Employee, owner_id: int | None, team: str) -> bool:
    if not actor.active:
        return False
    if actor.role == Role.ADMIN:
        return True
    if actor.role == Role.SUPERVISOR:
        return actor.team == team
    return owner_id == actor.id
