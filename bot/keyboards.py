"""Inline keyboards of the workspace. Labels of outcome buttons, reasons and stages come from the
playbook in the viewer's language (admin edits included); the bot's own words go through gettext.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.board_link import board_button
from bot.callbacks import (
    ConveyorToggle,
    FieldAdmin,
    FieldsOpen,
    NextTask,
    OpenDeal,
    PipelineAction,
    ReasonPick,
    RegionList,
    Reply,
    SlotPick,
    SubMenuBack,
    TaskAction,
    TimeAccept,
    ZonePick,
)
from config.playbook import Playbook
from crm.feed import Slot
from crm.phones import REGION_ZONES

# Stage colours the admin picks from, with the square shown beside a stage in /pipeline.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#4C9BE8", "🟦"),
    ("#3FB950", "🟩"),
    ("#F2B134", "🟨"),
    ("#F0883E", "🟧"),
    ("#E5534B", "🟥"),
    ("#9B6BD6", "🟪"),
    ("#8B949E", "⬜"),
    ("#6E7681", "⬛"),
)


MAX_ROW = 8  # buttons in a row of an inline keyboard (Telegram's limit, the builder's default)


def color_square(color: str) -> str:
    """The palette square nearest to a stage colour (a file may hold any #RRGGBB)."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]

    def distance(entry: tuple[str, str]) -> int:
        other = [int(entry[0][i : i + 2], 16) for i in (1, 3, 5)]
        return sum((a - b) ** 2 for a, b in zip(rgb, other, strict=True))

    return min(PALETTE, key=distance)[1]


def region_names() -> dict[str, str]:
    """The regions of REGION_ZONES by key, in the current language."""
    return {
        "kgd": _("Kaliningrad"),
        "msk": _("Moscow"),
        "sam": _("Samara"),
        "ekb": _("Yekaterinburg"),
        "oms": _("Omsk"),
        "nsk": _("Novosibirsk"),
        "irk": _("Irkutsk"),
        "yak": _("Yakutsk"),
        "vla": _("Vladivostok"),
        "mag": _("Magadan"),
        "kam": _("Kamchatka"),
    }


def _back(builder: InlineKeyboardBuilder, task_id: int) -> None:
    builder.button(text=_("« Back"), callback_data=SubMenuBack(task=task_id))


def _laid_out(buttons: Sequence[InlineKeyboardButton], *sizes: int) -> InlineKeyboardMarkup:
    """Buttons in rows of `sizes`, the last size repeating (InlineKeyboardBuilder.adjust's
    layout). The keyboards of a press are built directly: the builder deep-copies every
    button on each step, a tenth of the bot's CPU time per press."""
    rows: list[list[InlineKeyboardButton]] = []
    at = 0
    while at < len(buttons):
        size = sizes[min(len(rows), len(sizes) - 1)] if sizes else MAX_ROW
        rows.append(list(buttons[at : at + size]))
        at += size
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def card_keyboard(
    playbook: Playbook, lang: str, task_id: int, stage: str, *, zone_unknown: bool
) -> InlineKeyboardMarkup:
    """The outcomes the stage offers, Region while the client's zone is unknown, Fields when the
    playbook has custom fields, and the board's link when it is set."""
    try:
        offered = playbook.stage(stage).buttons
    except KeyError:
        offered = ()
    buttons = [
        _button(playbook.buttons[key].label.get(lang), TaskAction(task=task_id, button=key))
        for key in offered
    ]
    sizes = [2] * ((len(offered) + 1) // 2)
    if zone_unknown:  # one button, not a region list under every card
        buttons.append(_button("🌍 " + _("Region"), RegionList(task=task_id)))
        sizes.append(1)
    if playbook.fields:
        buttons.append(_button("📝 " + _("Fields"), FieldsOpen(task=task_id)))
        sizes.append(1)
    if (board := board_button()) is not None:
        buttons.append(board)
        sizes.append(1)
    return _laid_out(buttons, *sizes)


def regions_keyboard(task_id: int, recent: Sequence[str]) -> InlineKeyboardMarkup:
    """Every region, the rep's recent picks first (a row of their own), then Back."""
    names = region_names()
    first = [key for key in recent if key in REGION_ZONES]
    rest = [key for key in REGION_ZONES if key not in first]
    def row(keys: Sequence[str]) -> list[InlineKeyboardButton]:
        return [_button(names[key], ZonePick(task=task_id, zone=key)) for key in keys]

    rows = [row(first)] if first else []
    rows += [row(rest[at : at + 3]) for at in range(0, len(rest), 3)]
    rows.append([_button(_("« Back"), SubMenuBack(task=task_id))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def reply_button(deal_id: int) -> InlineKeyboardButton:
    return _button("↩️ " + _("Reply"), Reply(deal_id=deal_id))


def with_reply(markup: InlineKeyboardMarkup | None, deal_id: int) -> InlineKeyboardMarkup:
    """A keyboard (a card's) with the Reply-to-the-client button as its last row."""
    rows = list(markup.inline_keyboard) if markup else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [reply_button(deal_id)]])


def submenu_keyboard(
    playbook: Playbook, lang: str, task_id: int, button: str
) -> InlineKeyboardMarkup:
    buttons = [
        _button(playbook.buttons[key].label.get(lang), TaskAction(task=task_id, button=key))
        for key in playbook.buttons[button].submenu
    ]
    return _laid_out([*buttons, _button(_("« Back"), SubMenuBack(task=task_id))], 1)


def reasons_keyboard(
    playbook: Playbook, lang: str, task_id: int, button: str
) -> InlineKeyboardMarkup:
    buttons = [
        _button(playbook.reasons[key].get(lang), ReasonPick(task=task_id, button=button, index=i))
        for i, key in enumerate(playbook.buttons[button].reasons)
    ]
    return _laid_out([*buttons, _button(_("« Back"), SubMenuBack(task=task_id))], 2)


def slot_label(slot: Slot, now: datetime, zone: ZoneInfo) -> str:
    local, today = slot.start.astimezone(zone), now.astimezone(zone).date()
    day = "" if local.date() == today else local.strftime("%d.%m ")
    if local.year != today.year:
        day = local.strftime("%d.%m.%Y ")
    return f"{day}{local:%H:%M} · {slot.tasks}"


def slots_keyboard(
    slots: Sequence[Slot], task_id: int, button: str, now: datetime, zone: ZoneInfo
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for slot in slots:
        builder.button(
            text=slot_label(slot, now, zone),
            callback_data=SlotPick(
                task=task_id, button=button, minute=int(slot.start.timestamp()) // 60
            ),
        )
    _back(builder, task_id)
    builder.adjust(*([2] * ((len(slots) + 1) // 2)), 1)
    return builder.as_markup()


def accept_time_keyboard(
    task_id: int, button: str, moment: datetime, shown: str
) -> InlineKeyboardMarkup:
    """One tap to take the offered time; typing another one stays open."""
    accept = TimeAccept(task=task_id, button=button, minute=int(moment.timestamp()) // 60)
    return _laid_out([_button(_("✅ {when}").format(when=shown), accept)])


def after_outcome_keyboard(conveyor: bool) -> InlineKeyboardMarkup:
    return _laid_out(
        [
            _button(_("Next task ▶"), NextTask()),
            _button(
                # The state, and what a tap does to it.
                _("Conveyor on · tap to stop") if conveyor else _("Conveyor off · tap to start"),
                ConveyorToggle(on=0 if conveyor else 1),
            ),
        ]
    )


def next_keyboard() -> InlineKeyboardMarkup:
    return _laid_out([_button(_("Next task ▶"), NextTask())])


def deals_keyboard(found: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    """One button per (deal id, label), for /find."""
    builder = InlineKeyboardBuilder()
    for deal_id, label in found:
        builder.button(text=label[:64], callback_data=OpenDeal(deal=deal_id))
    builder.adjust(1)
    return builder.as_markup()


# -- /pipeline (admin) --------------------------------------------------------------------------


def pipeline_keyboard(stages: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    """(stage id, shown name) per stage, then add and button-label editing."""
    builder = InlineKeyboardBuilder()
    for stage_id, name in stages:
        builder.button(text=name, callback_data=PipelineAction(action="stage", stage=stage_id))
    builder.button(text=_("➕ Add stage"), callback_data=PipelineAction(action="add"))
    builder.button(text=_("🏷 Button labels"), callback_data=PipelineAction(action="buttons"))
    builder.button(text="📝 " + _("Fields"), callback_data=FieldAdmin(action="list"))
    builder.adjust(*([1] * len(stages)), 2, 1)
    return builder.as_markup()


def stage_keyboard(stage_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✏️ Name (RU)"),
        callback_data=PipelineAction(action="rename", stage=stage_id, lang="ru"),
    )
    builder.button(
        text=_("✏️ Name (EN)"),
        callback_data=PipelineAction(action="rename", stage=stage_id, lang="en"),
    )
    builder.button(
        text=_("🎨 Colour"), callback_data=PipelineAction(action="colour", stage=stage_id)
    )
    builder.button(text=_("⬆️ Up"), callback_data=PipelineAction(action="up", stage=stage_id))
    builder.button(text=_("⬇️ Down"), callback_data=PipelineAction(action="down", stage=stage_id))
    builder.button(
        text=_("🗑 Remove"), callback_data=PipelineAction(action="remove", stage=stage_id)
    )
    builder.button(text=_("« Back"), callback_data=PipelineAction(action="list"))
    builder.adjust(2, 1, 2, 1, 1)
    return builder.as_markup()


def palette_keyboard(stage_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for index, (_color, square) in enumerate(PALETTE):
        builder.button(
            text=square,
            callback_data=PipelineAction(action="setcolour", stage=stage_id, arg=str(index)),
        )
    builder.button(text=_("« Back"), callback_data=PipelineAction(action="stage", stage=stage_id))
    builder.adjust(4, 4, 1)
    return builder.as_markup()


def move_targets_keyboard(
    stage_id: int, targets: Sequence[tuple[int, str]]
) -> InlineKeyboardMarkup:
    """Where the deals of a removed stage go: one button per open stage."""
    builder = InlineKeyboardBuilder()
    for target_id, name in targets:
        builder.button(
            text="→ " + name,
            callback_data=PipelineAction(action="removeto", stage=stage_id, arg=str(target_id)),
        )
    builder.button(text=_("« Back"), callback_data=PipelineAction(action="stage", stage=stage_id))
    builder.adjust(1)
    return builder.as_markup()


def label_buttons_keyboard(playbook: Playbook, lang: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for key, spec in playbook.buttons.items():
        builder.button(
            text=spec.label.get(lang), callback_data=PipelineAction(action="button", arg=key)
        )
    builder.button(text=_("« Back"), callback_data=PipelineAction(action="list"))
    builder.adjust(2)
    return builder.as_markup()


def label_lang_keyboard(button: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for lang, text in (("ru", _("Russian label")), ("en", _("English label"))):
        builder.button(
            text=text, callback_data=PipelineAction(action="label", arg=button, lang=lang)
        )
    builder.button(text=_("« Back"), callback_data=PipelineAction(action="buttons"))
    builder.adjust(2, 1)
    return builder.as_markup()
