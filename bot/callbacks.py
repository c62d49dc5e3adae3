"""Callback data of every button the bot sends: short prefixes, ids and keys, ≤ 64 bytes packed.

All of them live here so that prefixes stay unique (tests/test_callbacks.py checks). A prefix
never changes: buttons already sent keep it, and a renamed prefix would make them dead.

Anyone can forge callback data, so nothing here is trusted. What a button refers to is read
from its fields (`task`, `deal`, `deal_id`: `references`), and who may press it from its class
(`needs`, the least role); bot/access.py checks both through crm.permissions before any handler
runs, for every class here, so a class added later is covered as soon as it names its deal in
one of those fields. The engine still checks ownership and staleness (FORBIDDEN /
ALREADY_HANDLED) for the press itself. Data that does not even unpack falls through every filter
to `unknown_button` in handlers/rep.py.

Reason and colour picks carry an index rather than a key: reason keys are free-form in the
playbook and could push the packed data past Telegram's 64 bytes.
"""

from __future__ import annotations

from typing import ClassVar

from aiogram.filters.callback_data import CallbackData
from pydantic import BaseModel

from crm.report_kinds import Kind
from storage.models import Role

TASK_FIELDS = ("task",)
DEAL_FIELDS = ("deal", "deal_id")

# -- the rep's workspace: cards, the feed, /find, the admin's /pipeline --


class TaskAction(CallbackData, prefix="a"):
    """An outcome button on a card (or a sub-button); a button with a submenu opens it."""

    task: int
    button: str


class SubMenuBack(CallbackData, prefix="m"):
    """'Back' from a sub-menu, slot or reason keyboard to the card's own buttons."""

    task: int


class SlotPick(CallbackData, prefix="s"):
    """One of the slot keyboard's hours; `minute` is minutes since the Unix epoch (UTC)."""

    task: int
    button: str
    minute: int


class TimeAccept(CallbackData, prefix="tw"):
    """Accepting the time the bot offered instead of the one typed or picked (moved into working
    hours, or a passed time's suggestion); `minute` as in SlotPick."""

    task: int
    button: str
    minute: int


class ReasonPick(CallbackData, prefix="r"):
    """A reason for a button with reasons (Refused); `index` into that button's reasons."""

    task: int
    button: str
    index: int


class ZonePick(CallbackData, prefix="z"):
    """One-tap region for a card whose client zone is unknown; `zone` is a REGION_ZONES key."""

    task: int
    zone: str


class RegionList(CallbackData, prefix="zl"):
    """The card's one Region button: opens the list of regions (ZonePick each)."""

    task: int


class ConveyorToggle(CallbackData, prefix="c"):
    """Turn conveyor mode on (1) or off (0): the state wanted, so a double tap is harmless."""

    on: int


class NextTask(CallbackData, prefix="n"):
    """'Next task' under a closed card or an empty feed."""


class OpenDeal(CallbackData, prefix="d"):
    """A /find result: the card of this deal's open task."""

    deal: int


class PipelineAction(CallbackData, prefix="p"):
    """The admin's /pipeline editor. `stage` is a Stage row id (keys may be 32 chars long);
    `arg` is the action's argument: a target stage id, a palette index or a button key."""

    needs: ClassVar[Role] = Role.ADMIN

    action: str
    stage: int = 0
    arg: str = ""
    lang: str = ""


# -- custom fields on a card (handlers/fields.py); keys are a field's playbook key --


class FieldsOpen(CallbackData, prefix="fo"):
    """The card's Fields button: the list of the deal's fields to set."""

    task: int


class FieldEdit(CallbackData, prefix="fe"):
    """One field of that list: its options, or a prompt to type the value."""

    task: int
    key: str


class FieldPick(CallbackData, prefix="fp"):
    """An option of a choice field, by index into its options; -1 clears the field."""

    task: int
    key: str
    option: int


class FieldAdmin(CallbackData, prefix="pf"):
    """The admin's field editor under /pipeline (handlers/admin_fields.py); `key` a field's."""

    needs: ClassVar[Role] = Role.ADMIN

    action: str
    key: str = ""
    lang: str = ""


# -- every employee: /lang and the rep's shift (handlers/common.py, handlers/rep.py) --


class LangChoice(CallbackData, prefix="lang"):
    code: str


class ShiftToggle(CallbackData, prefix="sh"):
    """Start (on=1) or end (on=0) the rep's shift: only reps on shift get new chat leads."""

    on: int


# -- supervisors: /report and /overdue (handlers/supervisor.py) --


class _ForSupervisors(BaseModel):
    needs: ClassVar[Role] = Role.SUPERVISOR


class _ReportPeriod(_ForSupervisors):
    """A report over the last `days` days: its chart and its CSV."""

    kind: Kind
    days: int


class _ReportByPeriod(_ForSupervisors):
    """The same grouped by a choice field. The fields' order is the packed one: kept as sent."""

    kind: Kind
    field: str
    days: int


class ReportKind(CallbackData, _ForSupervisors, prefix="rk"):
    kind: Kind


class ReportRun(CallbackData, _ReportPeriod, prefix="rr"):
    """The chart, with a CSV button under it."""


class ReportCsv(CallbackData, _ReportPeriod, prefix="rc"):
    """The CSV file of the same report."""


class ReportBy(CallbackData, _ForSupervisors, prefix="rb"):
    """A report grouped by a choice field (`field`: its key, at most 32 characters)."""

    kind: Kind
    field: str


class ReportByRun(CallbackData, _ReportByPeriod, prefix="rbr"):
    """The grouped chart, with a CSV button under it."""


class ReportByCsv(CallbackData, _ReportByPeriod, prefix="rbc"):
    """The CSV file of the same grouped report."""


class Reassign(CallbackData, _ForSupervisors, prefix="ra"):
    deal: int


class ReassignTo(CallbackData, _ForSupervisors, prefix="rt"):
    deal: int
    rep: int


# -- answering clients (handlers/relay.py) --


class Reply(CallbackData, prefix="rp"):
    """The Reply button under a card or a relayed client message."""

    deal_id: int


def registered() -> dict[str, type[CallbackData]]:
    """Every callback class of this module by prefix (unique: tests/test_callbacks.py)."""
    return {
        cls.__prefix__: cls
        for cls in globals().values()
        if isinstance(cls, type) and issubclass(cls, CallbackData) and cls.__module__ == __name__
    }


def unpack(data: str | None) -> CallbackData | None:
    """The button behind callback data, None when it is not ours or does not unpack."""
    cls = _BY_PREFIX.get((data or "").split(":", 1)[0])
    if cls is None:
        return None
    try:
        return cls.unpack(data or "")
    except (TypeError, ValueError):
        return None


def least_role(button: CallbackData) -> Role:
    """The least role that may press this button."""
    return getattr(button, "needs", Role.REP)


def references(button: CallbackData) -> tuple[int | None, int | None]:
    """The task id and the deal id the button names (None where it names none)."""
    fields = button.model_dump()
    task = next((fields[f] for f in TASK_FIELDS if f in fields), None)
    deal = next((fields[f] for f in DEAL_FIELDS if f in fields), None)
    return task, deal


_BY_PREFIX = registered()
