"""Which outcome a drag between two stages presses (crm.board_actions.button_to): for every
pair of stages of the default playbook, a pressed outcome is one the stage offers (its
sub-menus opened), leads to the column it was dropped on and is no ladder or note; and the
default pipeline's table of drags, written out."""

from __future__ import annotations

import itertools

from config.playbook import load_playbook
from crm.board_actions import button_to

PLAYBOOK = load_playbook()
STAGES = [s.key for s in PLAYBOOK.stages]


def test_a_pressed_outcome_is_offered_and_leads_to_the_drop_column() -> None:
    for stage, target in itertools.product(STAGES, [*STAGES, "gone"]):
        button = button_to(PLAYBOOK, stage, target)
        if button is None:
            continue
        offered = PLAYBOOK.stage(stage).buttons
        opened = {*offered, *(s for b in offered for s in PLAYBOOK.buttons[b].submenu)}
        spec = PLAYBOOK.buttons[button]
        assert button in opened, (stage, target, button)
        assert spec.next_stage == target, (stage, target, button)
        assert not spec.ladder and not spec.note and not spec.submenu, (stage, target, button)


def test_the_default_pipeline_moves() -> None:
    forward = {"in_progress": "call_back", "invoice_sent": "invoice_sent", "paid": "paid",
               "refused": "refused"}
    expected = {stage: forward for stage in ("new", "in_progress", "invoice_sent")}
    table = {
        stage: {t: b for t in STAGES if (b := button_to(PLAYBOOK, stage, t)) is not None}
        for stage in STAGES
    }
    assert table == {**expected, "paid": {}, "refused": {}, "archive": {}}
    assert button_to(PLAYBOOK, "new", "archive") is None  # only the ladder ends there
    assert button_to(PLAYBOOK, "in_progress", "new") is None
    assert button_to(PLAYBOOK, "new", "gone") is None
