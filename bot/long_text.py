"""A text longer than one Telegram message, as several: cut at a paragraph, else a line, else a
word, so every part is within its limit and reads whole. aiogram has no splitter."""

from __future__ import annotations

from bot.cards import MAX_TEXT

_BOUNDARIES = ("\n\n", "\n", " ")


def split_text(text: str, room: int = MAX_TEXT, first: int | None = None) -> list[str]:
    """Plain-text parts, in order, of at most `room` characters (the first at most `first`, a
    caption's room, if given). Telegram trims a message, so the whitespace at a cut is dropped;
    a text that fits is one part, untouched."""
    limit = room if first is None else first
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = next(
            (at for sep in _BOUNDARIES if (at := window.rfind(sep)) > limit // 2), limit
        )
        part = rest[:cut].strip()
        if part:
            parts.append(part)
            limit = room
        rest = rest[cut:].lstrip()
    if rest.strip():
        parts.append(rest.rstrip())
    return parts or [""]  # whitespace alone: Telegram would show nothing either
