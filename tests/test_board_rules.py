"""Which outcome a drag between two stages presses (crm.board_actions.button_to), for every pair
of stages of the default playbook: one the stage offers that leads there, never a ladder or a
note, and none exactly when no such outcome exists."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from config.playbook import load_playbook
from crm.board_actions import button_to

PLAYBOOK = load_playbook()
STAGES = [s.key for s in PLAYBOOK.stages]


@given(st.sampled_from(STAGES), st.sampled_from([*STAGES, "gone"]))
def test_a_drag_presses_an_offered_outcome_leading_there(stage: str, target: str) -> None:
    offered = PLAYBOOK.stage(stage).buttons
    reachable = [
        key for key in (*offered, *(s for b in offered for s in PLAYBOOK.buttons[b].submenu))
        if PLAYBOOK.buttons[key].next_stage == target and not PLAYBOOK.buttons[key].ladder
        and not PLAYBOOK.buttons[key].note
    ]
    button = button_to(PLAYBOOK, stage, target)
    assert (button is None) == (not reachable)
    if button is not None:
        spec = PLAYBOOK.buttons[button]
        assert button in reachable and spec.next_stage == target and not spec.ladder


def test_the_default_pipeline_moves() -> None:
    assert button_to(PLAYBOOK, "new", "in_progress") == "call_back"
    assert button_to(PLAYBOOK, "new", "invoice_sent") == "invoice_sent"
    assert button_to(PLAYBOOK, "in_progress", "paid") == "paid"
    assert button_to(PLAYBOOK, "invoice_sent", "refused") == "refused"
    assert button_to(PLAYBOOK, "in_progress", "new") is None
    assert button_to(PLAYBOOK, "new", "archive") is None  # only the ladder ends there
    assert button_to(PLAYBOOK, "paid", "new") is None  # a closed deal is not dragged
