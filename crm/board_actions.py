"""What a board viewer does to a deal: drag it to a stage, press one of its stage's outcomes,
open its detail, give it to another rep. Every change goes through the engine (apply_outcome)
or crm.feed.reassign, as the chat's buttons do, after crm.permissions' rule: deal_access, or
can_act_on on the press's own read of the task and deal (one read for the whole move).

A card carries the deal's version and open task as the viewer saw them: a deal changed since
(pressed in the chat, called, reassigned) refuses the move with its fresh state, as a stale
button in the chat shows the fresh card.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config.playbook import Playbook
from crm import feed
from crm.board import Card, card_of
from crm.context import Crm
from crm.dateparse import ParseFailure, parse_when
from crm.engine import Outcome, Press, Status, apply_outcome
from crm.notices import Notifier
from crm.permissions import Refusal, can_act_on, deal_access, has_role, team_visible
from crm.reports import FunnelStage, Period, funnel
from storage import board as store
from storage.card_reads import CardRow, card_of_deal
from storage.models import Employee, Role, TaskStatus
from storage.targets import PressTarget, load_press_target

FUNNEL_DAYS = 30
TIMELINE = 30  # events in the detail


class MoveStatus(enum.StrEnum):
    DONE = "done"
    NOTE_ADDED = "note_added"
    NEEDS_TIME = "needs_time"      # slots offered; or type a time
    OFFERED_TIME = "offered_time"  # the time asked for moves (hours, night, past): accept it?
    UNREADABLE = "unreadable"      # a typed time the parser could not read
    NEEDS_REASON = "needs_reason"
    NEEDS_FIELDS = "needs_fields"  # the stage needs custom fields set first: `fields`, keys
    STALE = "stale"                # changed meanwhile: `card` is its fresh state
    NO_WAY = "no_way"              # no outcome of the deal's stage leads to that stage
    NOT_OFFERED = "not_offered"
    REFUSED = "refused"            # not the viewer's deal (nothing of it is told)


@dataclass(frozen=True)
class MoveResult:
    status: MoveStatus
    card: Card | None = None  # the deal after the move, or its fresh state when stale
    button: str | None = None
    slots: tuple[feed.Slot, ...] = ()
    offered: datetime | None = None
    why: str | None = None  # why the time moved ("off_hours", "past"...), or the parse failure
    reasons: tuple[str, ...] = ()
    refusal: Refusal | None = None
    fields: tuple[str, ...] = ()
    outcome: Outcome | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Ask:
    """What the viewer sent with a press: the card as he saw it and what he typed or chose."""

    deal_id: int
    task_id: int
    version: int
    when: datetime | None = None
    typed: str = ""
    reason: str | None = None
    note: str = ""


def button_to(playbook: Playbook, stage: str, target: str) -> str | None:
    """The outcome of `stage` that takes a deal to `target`: the stage's own buttons first, then
    those of its sub-menus; never a ladder (its stage is where the ladder ends) or a note."""
    try:
        offered = playbook.stage(stage).buttons
    except KeyError:
        return None
    candidates = [*offered, *(s for b in offered for s in playbook.buttons[b].submenu)]
    for key in candidates:
        spec = playbook.buttons[key]
        if spec.next_stage == target and not spec.ladder and not spec.note:
            return key
    return None


async def _fresh(crm: Crm, deal_id: int) -> Card | None:
    row = await store.deal_row(deal_id)
    return card_of(crm.playbook, row, crm.now()) if row else None


async def _target(viewer: Employee, ask: Ask) -> PressTarget | MoveResult:
    """The task and deal as the engine reads them, once, if the viewer may act on them
    (crm.permissions.can_act_on, the rule deal_access applies): the move's checks, the time's
    placing and the press itself all use this one read."""
    target = await load_press_target(ask.task_id)
    if target is None or target.deal_id != ask.deal_id:
        return MoveResult(MoveStatus.REFUSED, refusal=Refusal.GONE)
    if not can_act_on(viewer, target.owner_id, target.team):
        return MoveResult(MoveStatus.REFUSED, refusal=Refusal.NOT_YOURS)
    return target


async def move(crm: Crm, viewer: Employee, ask: Ask, to_stage: str) -> MoveResult:
    """Drag the deal to `to_stage` through the outcome that leads there."""
    target = await _target(viewer, ask)
    if isinstance(target, MoveResult):
        return target
    button = button_to(crm.playbook, target.stage, to_stage)
    if button is None:
        return MoveResult(MoveStatus.NO_WAY, await _fresh(crm, ask.deal_id))
    return await _press(crm, viewer, ask, button, target)


async def press(crm: Crm, viewer: Employee, ask: Ask, button: str) -> MoveResult:
    """Press one of the deal's stage outcomes from its detail."""
    target = await _target(viewer, ask)
    if isinstance(target, MoveResult):
        return target
    return await _press(crm, viewer, ask, button, target)


async def _press(
    crm: Crm, viewer: Employee, ask: Ask, button: str, target: PressTarget
) -> MoveResult:
    if target.version != ask.version or target.task_status != TaskStatus.OPEN:
        return MoveResult(MoveStatus.STALE, await _fresh(crm, ask.deal_id))
    spec = crm.playbook.buttons.get(button)
    if spec is None or spec.submenu:
        return MoveResult(MoveStatus.NOT_OFFERED, await _fresh(crm, ask.deal_id))
    when = ask.when
    if spec.when == "ask" and not spec.note:
        asked = await _time(crm, viewer, ask, button, target)
        if isinstance(asked, MoveResult):
            return asked
        when = asked
    if spec.reasons and ask.reason not in spec.reasons:
        return MoveResult(MoveStatus.NEEDS_REASON, button=button, reasons=spec.reasons)
    outcome = await apply_outcome(
        crm,
        Press(ask.task_id, button, viewer, when=when, reason=ask.reason, note=ask.note,
              source="board"),
        target=target,
    )
    card = await _fresh(crm, ask.deal_id)
    status = {
        Status.DONE: MoveStatus.DONE,
        Status.NOTE_ADDED: MoveStatus.NOTE_ADDED,
        Status.NOT_OFFERED: MoveStatus.NOT_OFFERED,
        Status.NEEDS_REASON: MoveStatus.NEEDS_REASON,
        Status.NEEDS_FIELDS: MoveStatus.NEEDS_FIELDS,
    }.get(outcome.status, MoveStatus.STALE)  # ALREADY_HANDLED, FORBIDDEN: changed meanwhile
    return MoveResult(status, card, button, reasons=spec.reasons, fields=outcome.missing_fields,
                      outcome=outcome)


async def _time(
    crm: Crm, viewer: Employee, ask: Ask, button: str, target: PressTarget
) -> datetime | MoveResult:
    """The next step's time as the chat's /when flow takes it: a picked slot or a typed time,
    offered back for one tap when it would move (working hours, the client's night) or was a
    guess (a passed date); without either, the slots with the deal owner's load."""
    now = crm.now()
    when = ask.when
    guessed = None
    if when is None and ask.typed.strip():
        zone = viewer_zone(crm, viewer)
        parsed = parse_when(ask.typed, now.astimezone(zone))
        if isinstance(parsed, ParseFailure):
            if parsed.suggestion is None:
                return MoveResult(MoveStatus.UNREADABLE, button=button, why=parsed.reason)
            when, guessed = parsed.suggestion, parsed.reason
        else:
            when = parsed
    if when is None:
        owner = await Employee.get_or_none(id=target.owner_id) if target.owner_id else None
        slots = await feed.slots(crm, owner or viewer, task_id=ask.task_id)
        return MoveResult(MoveStatus.NEEDS_TIME, button=button, slots=tuple(slots))
    if when <= now:
        return MoveResult(MoveStatus.UNREADABLE, button=button, why="past")
    placed = crm.place(when, target.contact_tz)  # as the engine will place it
    if placed.reason is not None or guessed is not None:
        return MoveResult(
            MoveStatus.OFFERED_TIME, button=button, offered=placed.at,
            why=placed.reason or guessed,
        )
    return when


def viewer_zone(crm: Crm, viewer: Employee) -> ZoneInfo:
    """The viewer's own zone for typed times: his setting, else the department's."""
    return ZoneInfo(viewer.tz) if viewer.tz else crm.playbook.working_hours.zone


@dataclass(frozen=True)
class Detail:
    card: Card
    row: CardRow  # contact, phones, timeline
    buttons: tuple[str, ...]  # the stage's outcomes, sub-menus opened
    reps: tuple[tuple[int, str], ...]  # whom a supervisor may give the deal to; () for a rep


async def detail(crm: Crm, viewer: Employee, deal_id: int) -> Detail | Refusal:
    access = await deal_access(viewer, deal_id=deal_id)
    if not access.allowed or access.deal is None:
        return access.refusal or Refusal.GONE
    row = await card_of_deal(deal_id, TIMELINE)
    card = await _fresh(crm, deal_id)
    if row is None or card is None:
        return Refusal.GONE
    buttons: tuple[str, ...] = ()
    if row.task_id is not None and row.deal_status == "open":
        try:
            offered = crm.playbook.stage(row.stage).buttons
        except KeyError:
            offered = ()
        pb = crm.playbook.buttons
        buttons = tuple(s for b in offered for s in (pb[b].submenu or (b,)))
    reps: tuple[tuple[int, str], ...] = ()
    if has_role(viewer, Role.SUPERVISOR) and row.deal_status == "open":
        found = await Employee.filter(
            role=Role.REP, team=access.deal.team, active=True, reachable=True
        ).order_by("name").values_list("id", "name")
        reps = tuple((int(i), str(n)) for i, n in found)
    return Detail(card, row, buttons, reps)


async def give(
    crm: Crm, viewer: Employee, deal_id: int, version: int, rep_id: int, notifier: Notifier
) -> MoveResult:
    """A supervisor gives the deal to a rep of its team (crm.feed.reassign decides who may)."""
    access = await deal_access(viewer, deal_id=deal_id, needs=Role.SUPERVISOR)
    if not access.allowed or access.deal is None:
        return MoveResult(MoveStatus.REFUSED, refusal=access.refusal)
    if access.deal.version != version:
        return MoveResult(MoveStatus.STALE, await _fresh(crm, deal_id))
    done = await feed.reassign(crm, viewer, deal_id, rep_id, notifier)
    status = MoveStatus.DONE if done else MoveStatus.NOT_OFFERED
    return MoveResult(status, await _fresh(crm, deal_id))


async def board_funnel(crm: Crm, viewer: Employee, team: str | None) -> tuple[FunnelStage, ...]:
    """crm.reports' funnel of the last FUNNEL_DAYS for the team shown (a supervisor's own)."""
    if not team_visible(viewer, team):  # a supervisor's own team, whatever he asked
        team = viewer.team
    if not team_visible(viewer, team):
        return ()
    now = crm.now()
    return await funnel(crm, Period(now - timedelta(days=FUNNEL_DAYS), now, team or None))
