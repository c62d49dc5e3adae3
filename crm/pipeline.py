"""The pipeline as the admin edits it from the bot.

The playbook file is the starting point: its stages seed the `stage` table on first start, and
its custom fields the `field_def` table, each field the table never had (load_pipeline). After
that the tables are the truth for stages and fields (crm/field_admin.py edits the fields) and
`button_label` overrides the file's labels; refresh_pipeline() folds them into crm.playbook so
every next card shows the change.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from config.field_spec import FieldSpec
from config.pipeline_spec import ButtonSpec, StageSpec
from config.playbook import Playbook
from config.values import Label
from crm.context import Crm
from storage.models import (
    ButtonLabel,
    Deal,
    DealStatus,
    EventKind,
    FieldDef,
    Stage,
    TimelineEvent,
)

log = logging.getLogger(__name__)

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")


class EditError(enum.StrEnum):
    UNKNOWN_STAGE = "unknown_stage"
    BAD_KEY = "bad_key"
    TAKEN = "taken"
    BAD_COLOR = "bad_color"
    BAD_NAME = "bad_name"
    LAST_OPEN = "last_open"
    BAD_TARGET = "bad_target"
    UNKNOWN_BUTTON = "unknown_button"
    BREAKS_PLAYBOOK = "breaks_playbook"


@dataclass(frozen=True)
class StageInUse:
    """Why a stage cannot be removed: the playbook's rules still send deals to it by its key."""

    buttons: tuple[str, ...]  # buttons whose next_stage it is
    ladders: tuple[str, ...]  # ladders whose deals end in it after the last step


def stage_in_use(playbook: Playbook, key: str) -> StageInUse | None:
    """What in the playbook names the stage `key`: every reference Playbook._references checks."""
    buttons = tuple(name for name, spec in playbook.buttons.items() if spec.next_stage == key)
    ladders = tuple(name for name, spec in playbook.ladders.items() if spec.then == key)
    return StageInUse(buttons, ladders) if buttons or ladders else None


async def load_pipeline(crm: Crm) -> None:
    """At start: seed the stage table from the playbook file if it is empty, then load it.

    Workers starting together on an empty database may all find it empty and all seed; the
    insert skips a key another worker stored first (ON CONFLICT DO NOTHING on the unique key),
    so each stage is stored once whoever wins each row.
    """
    if not await Stage.exists():
        await Stage.bulk_create(
            [
                Stage(
                    key=s.key, position=i, name_ru=s.name.ru, name_en=s.name.en, color=s.color,
                    terminal=s.terminal, buttons=list(s.buttons),
                )
                for i, s in enumerate(crm.playbook.stages)
            ],
            ignore_conflicts=True,
        )
    # A field the table never had (new in the file) joins at the end; one the admin edited or
    # removed stays as he left it.
    known = set(await FieldDef.all().values_list("key", flat=True))
    position = len(known)
    await FieldDef.bulk_create(
        [FieldDef(key=f.key, position=position + i, spec=f.model_dump())
         for i, f in enumerate(f for f in crm.playbook.fields if f.key not in known)],
        ignore_conflicts=True,
    )
    await refresh_pipeline(crm)


async def refresh_pipeline(crm: Crm) -> None:
    """Rebuild crm.playbook from the stage table and label overrides when they changed.

    Every worker runs this after its own edits and on its clock every few seconds, so an edit
    made through another worker reaches its cards too. The tables themselves are the version:
    unchanged, a refresh costs two reads of a few rows and keeps the playbook as it is.
    Tables that make no valid playbook (edited by hand, say) leave the current one in place and
    are logged once, not on every tick; an admin can mend them from /pipeline meanwhile.
    """
    base = crm.playbook
    rows = await Stage.all().order_by("position", "id")
    overrides = await ButtonLabel.all()
    defs = await FieldDef.filter(removed=False).order_by("position", "id")
    tables = (
        [(r.key, r.name_ru, r.name_en, r.color, r.terminal, r.buttons) for r in rows],
        [(o.button, o.lang, o.text) for o in overrides],
        [(d.key, d.spec) for d in defs],
    )
    if tables == crm.rejected_pipeline:
        return  # logged when they changed to this
    crm.rejected_pipeline = None
    try:
        stages = tuple(
            StageSpec(
                key=r.key, name=Label(ru=r.name_ru, en=r.name_en), color=r.color,
                terminal=r.terminal, buttons=tuple(r.buttons),  # type: ignore[arg-type]
            )
            for r in rows
        )
        buttons = dict(base.buttons)
        for override in overrides:
            if override.button in buttons:
                spec = buttons[override.button]
                label = spec.label.model_copy(update={override.lang: override.text})
                buttons[override.button] = spec.model_copy(update={"label": label})
        fields = tuple(FieldSpec.model_validate(d.spec) for d in defs)
        if stages == base.stages and buttons == base.buttons and fields == base.fields:
            return
        # Validate the merged result like a file, so a bad edit can never reach the cards.
        playbook = _rebuilt(base, stages, buttons, fields)
    except ValidationError as exc:
        crm.rejected_pipeline = tables
        log.error(
            "the stage and button_label tables make no valid playbook; keeping the current one "
            "until they change: %s",
            exc,
        )
        return
    crm.playbook = playbook


def _rebuilt(
    base: Playbook, stages: Sequence[StageSpec], buttons: Mapping[str, ButtonSpec],
    fields: Sequence[FieldSpec] | None = None,
) -> Playbook:
    fields = base.fields if fields is None else fields
    return Playbook.model_validate(
        base.model_dump() | {"stages": [s.model_dump() for s in stages],
                             "buttons": {k: b.model_dump() for k, b in buttons.items()},
                             "fields": [f.model_dump() for f in fields]}
    )


async def add_stage(crm: Crm, key: str, name: str) -> EditError | None:
    if not _KEY_RE.match(key):
        return EditError.BAD_KEY
    if not 0 < len(name) <= 64:
        return EditError.BAD_NAME
    if await Stage.exists(key=key):
        return EditError.TAKEN
    # New stages go before the terminal ones and offer the buttons of the first stage.
    first_terminal = await Stage.filter(terminal__not_isnull=True).order_by("position").first()
    position = first_terminal.position if first_terminal else await Stage.all().count()
    template = crm.playbook.initial_stage
    # One transaction: a failed insert must not leave the later stages shifted over a gap.
    async with in_transaction():
        await Stage.filter(position__gte=position).update(position=F("position") + 1)
        await Stage.create(
            key=key, position=position, name_ru=name, name_en=name, color="#6E7681",
            buttons=list(template.buttons),
        )
        await _renumber()
    await refresh_pipeline(crm)
    return None


async def rename_stage(crm: Crm, key: str, lang: str, name: str) -> EditError | None:
    if not 0 < len(name) <= 64:
        return EditError.BAD_NAME
    field = "name_en" if lang == "en" else "name_ru"
    if not await Stage.filter(key=key).update(**{field: name}):
        return EditError.UNKNOWN_STAGE
    await refresh_pipeline(crm)
    return None


async def recolor_stage(crm: Crm, key: str, color: str) -> EditError | None:
    if not _COLOR_RE.match(color):
        return EditError.BAD_COLOR
    if not await Stage.filter(key=key).update(color=color):
        return EditError.UNKNOWN_STAGE
    await refresh_pipeline(crm)
    return None


async def move_stage(crm: Crm, key: str, delta: int) -> EditError | None:
    """Move a stage up (-1) or down (+1) in the pipeline."""
    rows = await Stage.all().order_by("position", "id")
    keys = [r.key for r in rows]
    if key not in keys:
        return EditError.UNKNOWN_STAGE
    i = keys.index(key)
    j = max(0, min(len(keys) - 1, i + delta))
    keys.insert(j, keys.pop(i))
    async with in_transaction():
        for position, k in enumerate(keys):
            await Stage.filter(key=k).update(position=position)
    await refresh_pipeline(crm)
    return None


async def remove_stage(crm: Crm, key: str, move_to: str) -> EditError | StageInUse | int:
    """Remove a stage, first moving its open deals to `move_to`; returns how many moved.

    A stage the playbook still names is refused before anything is written: without it the
    tables would make no valid playbook, and every worker would stay on the old one.
    """
    stage = await Stage.get_or_none(key=key)
    target = await Stage.get_or_none(key=move_to)
    if stage is None:
        return EditError.UNKNOWN_STAGE
    in_use = stage_in_use(crm.playbook, key)
    if in_use is not None:
        return in_use
    if target is None or target.key == key or target.terminal:
        return EditError.BAD_TARGET
    if stage.terminal is None and await Stage.filter(terminal=None).count() == 1:
        return EditError.LAST_OPEN
    remaining = [s for s in crm.playbook.stages if s.key != key]
    try:  # anything else the playbook needs of its stages (at least two of them, say)
        _rebuilt(crm.playbook, remaining, crm.playbook.buttons)
    except ValidationError:
        return EditError.BREAKS_PLAYBOOK
    now = crm.now()
    async with in_transaction():
        deals = await Deal.filter(stage=key, status=DealStatus.OPEN).values_list("id", flat=True)
        await Deal.filter(stage=key).update(stage=move_to, stage_changed_at=now)
        await TimelineEvent.bulk_create(
            [
                TimelineEvent(
                    deal_id=d, kind=EventKind.STAGE, at=now,
                    data={"from": key, "to": move_to, "reason": "stage removed"},
                )
                for d in deals
            ]
        )
        await stage.delete()
        await _renumber()
    await refresh_pipeline(crm)
    return len(deals)


async def set_button_label(crm: Crm, button: str, lang: str, text: str) -> EditError | None:
    if button not in crm.playbook.buttons:
        return EditError.UNKNOWN_BUTTON
    if not 0 < len(text) <= 64:
        return EditError.BAD_NAME
    await ButtonLabel.update_or_create(
        defaults={"text": text}, button=button, lang="en" if lang == "en" else "ru"
    )
    await refresh_pipeline(crm)
    return None


async def _renumber() -> None:
    rows = await Stage.all().order_by("position", "id")
    for position, row in enumerate(rows):
        if row.position != position:
            await Stage.filter(id=row.id).update(position=position)
