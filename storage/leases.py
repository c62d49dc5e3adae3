"""Leases: a named job held by one worker until its lease runs out (bot/leader.py renews it).

Each step is one statement, so two workers racing for an expired lease cannot both win: on
PostgreSQL the second UPDATE waits for the first's row lock and then finds the row no longer
matching. Nothing here holds a lock between statements, which PgBouncer's transaction mode
would not allow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from storage.models import Lease


async def take(name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Hold (or keep holding) `name` until now + ttl; False while another holds it unexpired."""
    if await Lease.filter(Q(holder=holder) | Q(expires_at__lt=now), name=name).update(
        holder=holder, expires_at=now + ttl
    ):
        return True
    try:
        await Lease.create(name=name, holder=holder, expires_at=now + ttl)
    except IntegrityError:
        return False  # the row exists and is held by another
    return True


# An expiry every clock has passed: a lease given up is free at once.
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def give_up(name: str, holder: str) -> None:
    """Let the next worker take `name` at once instead of after the lease runs out (the row
    stays: its note is for the next holder)."""
    await Lease.filter(name=name, holder=holder).update(expires_at=_LONG_AGO)


async def note(name: str) -> str:
    """What the lease's holders noted (empty if nothing)."""
    lease = await Lease.get_or_none(name=name)
    return lease.note if lease else ""


async def set_note(name: str, holder: str, text: str) -> bool:
    """Note `text` on a lease this holder holds; False if he lost it meanwhile."""
    return bool(await Lease.filter(name=name, holder=holder).update(note=text))
