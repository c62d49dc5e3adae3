"""/pipeline: the admin edits stages and button labels from the bot, through crm.pipeline.

Every change refreshes crm.playbook (the domain does it), so each rep's next card shows it.
"""

from __future__ import annotations

import html
import logging

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot import keyboards
from bot.callbacks import PipelineAction
from bot.editing import edit_text
from crm import pipeline
from crm.context import Crm
from handlers import employee_router
from storage.models import Deal, DealStatus, Employee, Role, Stage

log = logging.getLogger(__name__)

router = employee_router("admin", F.employee.role == Role.ADMIN)


class PipelineEdit(StatesGroup):
    new_key = State()
    new_name = State()  # data: key
    rename = State()  # data: stage (key), lang
    label = State()  # data: button, lang


def _error_text(error: pipeline.EditError) -> str:
    return {
        pipeline.EditError.UNKNOWN_STAGE: _("No such stage (removed meanwhile?)"),
        pipeline.EditError.BAD_KEY: _(
            "The key must be latin lowercase letters, digits and _, starting with a letter"
        ),
        pipeline.EditError.TAKEN: _("A stage with this key exists already"),
        pipeline.EditError.BAD_COLOR: _("Not a colour"),
        pipeline.EditError.BAD_NAME: _("The name must be 1 to 64 characters"),
        pipeline.EditError.LAST_OPEN: _("The last open stage cannot be removed"),
        pipeline.EditError.BAD_TARGET: _("Deals can only move to another open stage"),
        pipeline.EditError.UNKNOWN_BUTTON: _("No such button"),
        pipeline.EditError.BREAKS_PLAYBOOK: _("Without this stage the playbook would not be valid"),
    }[error]


def _in_use_text(in_use: pipeline.StageInUse, crm: Crm, lang: str) -> str:
    """What still sends deals to a stage, named as the admin sees it on the cards."""
    buttons = crm.playbook.buttons
    lines = [_("It cannot be removed while the playbook sends deals here:")]
    for name in in_use.buttons:
        label = buttons[name].label.get(lang)
        lines.append(_("• button «{label}» moves deals to this stage").format(label=label))
    for name in in_use.ladders:
        tries = ", ".join(f"«{b.label.get(lang)}»" for b in buttons.values() if b.ladder == name)
        tries = tries or name  # a ladder no button climbs yet
        lines.append(
            _("• after the last try of {buttons} deals go to this stage").format(buttons=tries)
        )
    return html.escape("\n".join(lines))


def _terminal_text(terminal: str | None) -> str:
    names = {"won": _("final: won"), "lost": _("final: lost"), "archive": _("final: archive")}
    return names.get(terminal or "", "")


async def _overview(lang: str) -> tuple[str, InlineKeyboardMarkup]:
    stages = await Stage.all().order_by("position", "id")
    lines = ["<b>" + _("Pipeline") + "</b>"]
    rows = []
    for number, stage in enumerate(stages, 1):
        name = stage.name_en if lang == "en" else stage.name_ru
        square = keyboards.color_square(stage.color)
        terminal = f" · {_terminal_text(stage.terminal)}" if stage.terminal else ""
        lines.append(f"{number}. {square} {html.escape(name)} <code>{stage.key}</code>{terminal}")
        rows.append((stage.id, f"{square} {name}"))
    lines.append("")
    lines.append(_("Pick a stage to edit it."))
    return "\n".join(lines), keyboards.pipeline_keyboard(rows)


async def _stage_view(stage: Stage) -> tuple[str, InlineKeyboardMarkup]:
    deals = await Deal.filter(stage=stage.key, status=DealStatus.OPEN).count()
    text = "\n".join(
        [
            f"{keyboards.color_square(stage.color)} <b>{html.escape(stage.name_ru)}</b> / "
            f"<b>{html.escape(stage.name_en)}</b> <code>{stage.key}</code>",
            _("Open deals here: {n}").format(n=deals),
        ]
    )
    return text, keyboards.stage_keyboard(stage.id)


@router.message(Command("pipeline"))
async def pipeline_command(message: Message, lang: str, state: FSMContext) -> None:
    await state.clear()
    text, markup = await _overview(lang)
    await message.answer(text, reply_markup=markup)


@router.callback_query(PipelineAction.filter())
async def pipeline_button(
    callback: CallbackQuery,
    callback_data: PipelineAction,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    message = callback.message if isinstance(callback.message, Message) else None
    action = callback_data.action
    if action == "list":
        await edit_text(message, *await _overview(lang))
        return
    if action == "add":
        await state.set_state(PipelineEdit.new_key)
        if message:
            await message.answer(
                _("The new stage's key (latin, e.g. meeting), then its name. /cancel to stop.")
            )
        return
    if action == "buttons":
        markup = keyboards.label_buttons_keyboard(crm.playbook, lang)
        await edit_text(message, _("Pick a button to rename:"), markup)
        return
    if action == "button" and callback_data.arg in crm.playbook.buttons:
        spec = crm.playbook.buttons[callback_data.arg]
        text = f"<b>{html.escape(spec.label.ru)}</b> / <b>{html.escape(spec.label.en)}</b>"
        await edit_text(message, text, keyboards.label_lang_keyboard(callback_data.arg))
        return
    if action == "label" and callback_data.arg in crm.playbook.buttons:
        await state.set_state(PipelineEdit.label)
        await state.update_data(button=callback_data.arg, lang=callback_data.lang)
        if message:
            await message.answer(_("Type the new label (/cancel to stop):"))
        return
    stage = await Stage.get_or_none(id=callback_data.stage)
    if stage is None:
        log.warning("admin %s: pipeline action %r on a missing stage", employee.id, callback.data)
        callback_answer.text = _("No such stage (removed meanwhile?)")
        await edit_text(message, *await _overview(lang))
        return
    await _stage_action(message, crm, employee, lang, state, callback_answer, stage, callback_data)


async def _stage_action(
    message: Message | None,
    crm: Crm,
    employee: Employee,
    lang: str,
    state: FSMContext,
    callback_answer: CallbackAnswer,
    stage: Stage,
    data: PipelineAction,
) -> None:
    action = data.action
    if action == "stage":
        await edit_text(message, *await _stage_view(stage))
    elif action == "rename" and data.lang in ("ru", "en"):
        await state.set_state(PipelineEdit.rename)
        await state.update_data(stage=stage.key, lang=data.lang)
        if message:
            await message.answer(_("Type the new name (/cancel to stop):"))
    elif action == "colour":
        await edit_text(
            message, *(await _stage_view(stage))[:1], keyboards.palette_keyboard(stage.id)
        )
    elif action == "setcolour" and data.arg.isdigit() and int(data.arg) < len(keyboards.PALETTE):
        await _report(
            callback_answer,
            await pipeline.recolor_stage(crm, stage.key, keyboards.PALETTE[int(data.arg)][0]),
        )
        await edit_text(message, *await _stage_view(await Stage.get(id=stage.id)))
    elif action in ("up", "down"):
        await _report(
            callback_answer,
            await pipeline.move_stage(crm, stage.key, -1 if action == "up" else 1),
        )
        await edit_text(message, *await _overview(lang))
    elif action == "remove":
        in_use = pipeline.stage_in_use(crm.playbook, stage.key)
        if in_use is not None:
            await _refuse_removal(message, callback_answer, crm, lang, stage, in_use)
            return
        targets = await Stage.filter(terminal=None).exclude(id=stage.id).order_by("position")
        rows = [(t.id, t.name_en if lang == "en" else t.name_ru) for t in targets]
        text = (await _stage_view(stage))[0] + "\n\n" + _("Remove it: where do its deals go?")
        await edit_text(message, text, keyboards.move_targets_keyboard(stage.id, rows))
    elif action == "removeto" and data.arg.isdigit():
        target = await Stage.get_or_none(id=int(data.arg))
        result = await pipeline.remove_stage(crm, stage.key, target.key if target else "")
        if isinstance(result, pipeline.StageInUse):
            await _refuse_removal(message, callback_answer, crm, lang, stage, result)
            return
        if isinstance(result, pipeline.EditError):
            callback_answer.text = _error_text(result)
            return
        log.info("admin %s removed stage %s, %s deals moved", employee.id, stage.key, result)
        callback_answer.text = _("Stage removed, deals moved: {n}").format(n=result)
        text, markup = await _overview(lang)
        moved = _("Stage removed, deals moved: {n}").format(n=result)
        await edit_text(message, f"{moved}\n\n{text}", markup)
    else:
        log.warning("admin %s: unknown pipeline action %r", employee.id, data.pack())
        callback_answer.text = _("Unknown button")


async def _refuse_removal(
    message: Message | None,
    callback_answer: CallbackAnswer,
    crm: Crm,
    lang: str,
    stage: Stage,
    in_use: pipeline.StageInUse,
) -> None:
    log.info("removal of stage %s refused: %s", stage.key, in_use)
    callback_answer.text = _("This stage cannot be removed")
    text, markup = await _stage_view(stage)
    await edit_text(message, f"{text}\n\n{_in_use_text(in_use, crm, lang)}", markup)


async def _report(callback_answer: CallbackAnswer, error: pipeline.EditError | None) -> None:
    callback_answer.text = _error_text(error) if error else _("Saved")


async def _done(message: Message, lang: str, state: FSMContext, error: object) -> None:
    """After a typed edit: the error (state kept, to try again) or the updated pipeline."""
    if isinstance(error, pipeline.EditError):
        await message.answer(_error_text(error))
        return
    await state.clear()
    text, markup = await _overview(lang)
    await message.answer(_("Saved") + "\n\n" + text, reply_markup=markup)


@router.message(PipelineEdit.new_key, F.text, ~F.text.startswith("/"))
async def typed_key(message: Message, state: FSMContext) -> None:
    # add_stage checks the key with the name; a bad one brings the rep back to this step.
    await state.update_data(key=(message.text or "").strip().lower())
    await state.set_state(PipelineEdit.new_name)
    await message.answer(_("The stage's name?"))


@router.message(PipelineEdit.new_name, F.text, ~F.text.startswith("/"))
async def typed_stage_name(message: Message, crm: Crm, lang: str, state: FSMContext) -> None:
    data = await state.get_data()
    error = await pipeline.add_stage(crm, str(data["key"]), (message.text or "").strip())
    if error in (pipeline.EditError.BAD_KEY, pipeline.EditError.TAKEN):
        await state.set_state(PipelineEdit.new_key)
    await _done(message, lang, state, error)


@router.message(PipelineEdit.rename, F.text, ~F.text.startswith("/"))
async def typed_rename(message: Message, crm: Crm, lang: str, state: FSMContext) -> None:
    data = await state.get_data()
    error = await pipeline.rename_stage(
        crm, str(data["stage"]), str(data["lang"]), (message.text or "").strip()
    )
    await _done(message, lang, state, error)


@router.message(PipelineEdit.label, F.text, ~F.text.startswith("/"))
async def typed_label(message: Message, crm: Crm, lang: str, state: FSMContext) -> None:
    data = await state.get_data()
    error = await pipeline.set_button_label(
        crm, str(data["button"]), str(data["lang"]), (message.text or "").strip()
    )
    await _done(message, lang, state, error)


@router.callback_query(F.data.startswith("p:"))
async def unknown_pipeline_button(
    callback: CallbackQuery, employee: Employee, callback_answer: CallbackAnswer
) -> None:
    log.warning("admin %s sent unreadable pipeline data %r", employee.id, callback.data)
    callback_answer.text = _("Unknown button")
