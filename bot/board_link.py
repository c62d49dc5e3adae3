"""The ways into the board from the chat: the Board button (an inline web_app button, so the
Mini App gets initData; a reply-keyboard button would not) on cards and under /help, and the
chat's menu button for each employee. All of them only when NEXTSTEP_WEB_APP_URL is set: the App
sets it here at start (a card is rendered in many places that have no settings at hand).
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, WebAppInfo
from aiogram.utils.i18n import gettext as _

_url = ""


def configure(url: str) -> None:
    global _url
    _url = url


def board_button() -> InlineKeyboardButton | None:
    if not _url:
        return None
    return InlineKeyboardButton(text="📋 " + _("Board"), web_app=WebAppInfo(url=_url))


def with_board(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """The keyboard with the Board button as its last row (as it is, without a board)."""
    button = board_button()
    if button is None:
        return markup
    rows = list(markup.inline_keyboard) if markup else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [button]])


async def set_board_menu(bot: Bot, chat_id: int) -> None:
    """The menu button beside the employee's input field opens the board."""
    if _url:
        menu = MenuButtonWebApp(text=_("Board"), web_app=WebAppInfo(url=_url))
        await bot.set_chat_menu_button(chat_id=chat_id, menu_button=menu)
