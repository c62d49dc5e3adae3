"""Ids that came from outside (a URL, a query, a form): parsed once, the same everywhere."""

from __future__ import annotations

# Ids are int4 on PostgreSQL: a larger number would fail in the database, not as bad input.
MAX_ID = 2**31 - 1


def parse_id(text: str) -> int | None:
    """A positive id written in ASCII digits within int4, or None. str.isdigit() alone also
    takes '²' or '١', which int() refuses or reads as another number."""
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
