"""Sending cards and editing messages in place (editing to the same content is no failure)."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.cards import Card


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


def pressed_message(callback: CallbackQuery) -> Message | None:
    """The card the button was on (None when Telegram no longer gives the message)."""
    return callback.message if isinstance(callback.message, Message) else None


async def send_card(target: Message, card: Card, prefix: str | None = None) -> None:
    text = f"{prefix}\n\n{card.text}" if prefix else card.text
    await target.answer(text, reply_markup=card.markup)
