"""Editing a message in place, where editing to the same content is not a failure."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, Message


def _unchanged(exc: TelegramBadRequest) -> bool:
    # Telegram refuses an edit that changes nothing; a double tap or a refresh does just that.
    return "not modified" in str(exc)


async def edit_text(
    message: Message | None, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    if message is None:
        return
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if not _unchanged(exc):
            raise


async def edit_markup(message: Message | None, markup: InlineKeyboardMarkup | None) -> None:
    if message is None:
        return
    try:
        await message.edit_reply_markup(reply_markup=markup)
    except TelegramBadRequest as exc:
        if not _unchanged(exc):
            raise
