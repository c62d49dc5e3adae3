"""/start (joining by invite), /help, /lang, /cancel for employees, and the per-role command menus.

A non-employee's /start without an invite code, and anything else he writes, is not handled
here: the router's filter lets it fall through to the client router.
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart, MagicData, or_f
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.board_link import set_board_menu, with_board
from bot.callbacks import LangChoice, ShiftToggle
from bot.i18n import speaking
from config.settings import SUPPORTED_LANGS
from crm.context import Crm
from crm.staff import JoinStatus, TelegramUser, redeem_invite, set_language
from storage.models import Employee, Role

log = logging.getLogger(__name__)

router = Router(name="common")
router.message.filter(or_f(MagicData(F.employee), CommandStart(deep_link=True)))
router.callback_query.filter(MagicData(F.employee))

LANG_NAMES = {"ru": "Русский", "en": "English"}


def shift_keyboard(on_shift: bool) -> InlineKeyboardMarkup:
    """The one button that flips the shift from where it stands."""
    keyboard = InlineKeyboardBuilder()
    keyboard.button(
        text=_("End shift") if on_shift else _("Start shift"),
        callback_data=ShiftToggle(on=0 if on_shift else 1),
    )
    return keyboard.as_markup()


def shift_text(on_shift: bool) -> str:
    return _("You are on shift") if on_shift else _("You are off shift")


def role_name(role: Role) -> str:
    return {
        Role.REP: _("rep"),
        Role.SUPERVISOR: _("supervisor"),
        Role.ADMIN: _("admin"),
    }[role]


def role_commands(role: Role | None) -> list[BotCommand]:
    """The menu of a role in the current language; None is a client."""
    if role is None:
        return [
            BotCommand(command="start", description=_("Write to us")),
            BotCommand(command="help", description=_("What this bot does")),
        ]
    commands = [
        BotCommand(command="next", description=_("Next task")),
        BotCommand(command="today", description=_("Today's agenda by hour")),
        BotCommand(command="find", description=_("Find a client by name, phone or tag")),
        BotCommand(command="add", description=_("Add a client and a deal")),
    ]
    conveyor = _("Conveyor: the next card by itself")
    commands.append(BotCommand(command="conveyor", description=conveyor))
    if role is Role.REP:
        commands.append(BotCommand(command="shift", description=_("Start or end your shift")))
    if role in (Role.SUPERVISOR, Role.ADMIN):
        commands += [
            BotCommand(command="report", description=_("Team analytics")),
            BotCommand(command="overdue", description=_("Overdue tasks of the team")),
        ]
    if role is Role.ADMIN:
        commands.append(BotCommand(command="pipeline", description=_("Edit the pipeline")))
    commands += [
        BotCommand(command="lang", description=_("Language")),
        BotCommand(command="help", description=_("Help")),
    ]
    return commands


async def set_client_menu(bot: Bot, i18n: I18n, default_lang: str) -> None:
    """The default scope is what clients see, in each supported language and by default."""
    for lang in SUPPORTED_LANGS:
        with speaking(i18n, lang):
            await bot.set_my_commands(
                role_commands(None), scope=BotCommandScopeDefault(), language_code=lang
            )
    with speaking(i18n, default_lang):
        await bot.set_my_commands(role_commands(None), scope=BotCommandScopeDefault())


async def set_employee_menu(bot: Bot, i18n: I18n, employee: Employee, lang: str) -> None:
    if employee.tg_id is None:
        return
    with speaking(i18n, lang):
        await bot.set_my_commands(
            role_commands(employee.role), scope=BotCommandScopeChat(chat_id=employee.tg_id)
        )
        await set_board_menu(bot, employee.tg_id)


def help_text(role: Role, *, role_said: bool = False) -> str:
    """The commands of a role, under a line saying the role unless the message said it."""
    lines = [
        _("/next: your most urgent task, or a new lead when nothing is due"),
        _("/today: your agenda by hour"),
        _("/find: find a client by name, phone or tag"),
        _("/add: add a client, e.g. /add Ivan Petrov +79161234567"),
        _("/conveyor: turn on or off the next card coming by itself after each outcome"),
    ]
    if role is Role.REP:
        lines.append(_("/shift: start or end your shift (new leads go to reps on shift)"))
    if role in (Role.SUPERVISOR, Role.ADMIN):
        lines += [_("/report: team analytics"), _("/overdue: overdue tasks of the team")]
    if role is Role.ADMIN:
        lines.append(_("/pipeline: stages and buttons"))
    lines += [_("/lang: language"), _("/cancel: stop what you are typing")]
    header = _("Press the buttons on a card to record what happened.")
    if not role_said:
        header = _("You are a {role}.").format(role=role_name(role)) + " " + header
    return "\n".join([header, "", *lines])


@router.message(CommandStart(deep_link=True))
async def start_with_code(
    message: Message, command: CommandObject, crm: Crm, employee: Employee | None, lang: str,
    i18n: I18n, bot: Bot,
) -> None:
    if employee is not None:
        await message.answer(
            _("You are already on the team as {role}.").format(role=role_name(employee.role))
        )
        return
    user = message.from_user
    assert user is not None  # CommandStart only matches messages that have a sender
    result = await redeem_invite(
        crm, command.args or "",
        TelegramUser(id=user.id, name=user.full_name, username=user.username, lang=lang),
    )
    if result.status is not JoinStatus.JOINED or result.employee is None:
        await message.answer(
            _("This invite is not valid: it has expired or was used already. "
              "Ask your admin for a new one.")
        )
        return
    joined = result.employee
    log.info("employee %s joined as %s", joined.id, joined.role)
    await set_employee_menu(bot, i18n, joined, lang)
    welcome = _("Welcome, {name}! You joined as {role}.").format(
        name=html.escape(joined.name), role=role_name(joined.role)
    )
    await message.answer(welcome + "\n\n" + help_text(joined.role, role_said=True))


@router.message(CommandStart())
@router.message(Command("help"))
async def show_help(message: Message, employee: Employee) -> None:
    is_rep = employee.role is Role.REP
    await message.answer(
        help_text(employee.role),
        reply_markup=with_board(shift_keyboard(employee.on_shift) if is_rep else None),
    )


@router.message(Command("pipeline"), MagicData(F.employee.role != Role.ADMIN))
async def pipeline_not_admin(message: Message) -> None:
    await message.answer(
        _("Only admins edit the pipeline. Ask your admin to change stages or buttons.")
    )


@router.message(Command("lang"))
async def choose_lang(message: Message) -> None:
    keyboard = InlineKeyboardBuilder()
    for code, name in LANG_NAMES.items():
        keyboard.button(text=name, callback_data=LangChoice(code=code))
    await message.answer(_("Choose the language:"), reply_markup=keyboard.as_markup())


@router.callback_query(LangChoice.filter(F.code.in_(SUPPORTED_LANGS)))
async def set_lang(
    callback: CallbackQuery, callback_data: LangChoice, employee: Employee,
    callback_answer: CallbackAnswer, i18n: I18n, bot: Bot,
) -> None:
    await set_language(employee, callback_data.code)
    with i18n.use_locale(callback_data.code):
        await set_employee_menu(bot, i18n, employee, callback_data.code)
        callback_answer.text = _("Language: English")
        if isinstance(callback.message, Message):
            await callback.message.edit_text(_("Language: English"))  # drops the buttons


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled, nothing changed."))
