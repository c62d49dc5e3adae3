"""Contacts' numbers and the index of their parts: every number is written here.

Beside each ContactPhone, phone_part holds every suffix of the number's digits at least
MIN_PART long (+74951234567: "74951234567", "4951234567", …, "4567"). Any run of that many
digits inside a number is the start of one of its suffixes, so a part typed in /find is a range
of that index ("4567" → from "4567" up to "4568"), which holds for any collation of digit
strings on SQLite and PostgreSQL alike: no scan of every number.
"""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.transactions import in_transaction

from storage.models import ContactPhone, PhonePart

MIN_PART = 4
_DIGITS = "0123456789"
_SEPARATORS = " -()"  # what people type between the digits of a number


def phone_parts(e164: str) -> list[str]:
    """The suffixes of the number's digits that are MIN_PART digits or longer, longest first."""
    digits = e164.lstrip("+")
    return [digits[i:] for i in range(len(digits) - MIN_PART + 1)]


def part_range(text: str) -> tuple[str, str | None] | None:
    """The parts that start with the digits typed: (lowest, first one above or None when the
    digits are all nines). None for text that is not a piece of a number: a letter, or fewer
    than MIN_PART digits."""
    typed = text.strip().removeprefix("+")
    if any(ch not in _DIGITS and ch not in _SEPARATORS for ch in typed):
        return None
    digits = "".join(ch for ch in typed if ch in _DIGITS)
    if len(digits) < MIN_PART:
        return None
    # The next string of digits after every one starting with `digits`: its last digit that is
    # not a 9, plus one, and nothing after it ("4599" → "46").
    head = digits.rstrip("9")
    upper = head[:-1] + str(int(head[-1]) + 1) if head else None
    return digits, upper


async def add_phones(numbers: Iterable[tuple[int, str]]) -> None:
    """Store (contact id, E.164) numbers with their parts, in the caller's transaction if any:
    a number is never stored without its parts. A number stored already raises IntegrityError."""
    numbers = list(numbers)
    if not numbers:
        return
    async with in_transaction():
        await ContactPhone.bulk_create([ContactPhone(contact_id=c, e164=p) for c, p in numbers])
        await PhonePart.bulk_create(
            [PhonePart(contact_id=c, part=part) for c, p in numbers for part in phone_parts(p)]
        )
