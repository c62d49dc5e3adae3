"""crm.permissions states one rule three ways: can_act_on (one deal), scope_of (a list's
filter) and team_visible (a whole team). Over role x active x owner x team they must agree."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crm.permissions import Scope, can_act_on, scope_of, team_visible
from storage.models import Employee, Role

VIEWER_ID, OTHER_ID = 7, 8
TEAMS = ("north", "south")

viewers = st.builds(
    lambda role, active, team: Employee(id=VIEWER_ID, name="V", role=role, team=team,
                                        active=active),
    st.sampled_from(list(Role)), st.booleans(), st.sampled_from(TEAMS),
)
owners = st.sampled_from([VIEWER_ID, OTHER_ID, None])


def _matches(scope: Scope | None, owner_id: int | None, team: str) -> bool:
    """A deal is in the scope as the board's SQL filters it (crm.board.scope_filters)."""
    if scope is None:
        return False
    return (scope.owner_id is None or scope.owner_id == owner_id) and (
        scope.team is None or scope.team == team
    )


@given(viewers, owners, st.sampled_from(TEAMS))
def test_scope_of_lists_exactly_the_deals_can_act_on_allows(
    viewer: Employee, owner_id: int | None, team: str
) -> None:
    assert _matches(scope_of(viewer), owner_id, team) == can_act_on(viewer, owner_id, team)


@given(viewers, owners, st.sampled_from(TEAMS))
def test_a_visible_team_is_one_whose_every_deal_may_be_acted_on(
    viewer: Employee, owner_id: int | None, team: str
) -> None:
    if team_visible(viewer, team):
        assert can_act_on(viewer, owner_id, team)


def test_who_sees_a_whole_team() -> None:
    def staff(role: Role, active: bool = True) -> Employee:
        return Employee(id=VIEWER_ID, name="V", role=role, team="north", active=active)

    assert team_visible(staff(Role.ADMIN), "south") and team_visible(staff(Role.ADMIN), None)
    assert team_visible(staff(Role.SUPERVISOR), "north")
    assert not team_visible(staff(Role.SUPERVISOR), "south")
    assert not team_visible(staff(Role.SUPERVISOR), None)
    assert not team_visible(staff(Role.REP), "north")
    assert not team_visible(staff(Role.ADMIN, active=False), "north")
