"""Who is who on a captured call: the agent (the side whose extension is an active
employee's), the far side's number in E.164 and his client for the agent."""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from crm.calltypes import CallRecord
from crm.phones import normalize_phone
from storage import targets
from storage.models import Employee
from storage.targets import CallSides, CallTarget

# A number's E.164 form, remembered: parsing costs ~30 µs a side of every captured call, and the
# same extensions and clients come back all day. It depends on the text alone.
e164_of = functools.lru_cache(maxsize=100_000)(normalize_phone)


class Direction(enum.StrEnum):
    OUTBOUND = "out"
    INBOUND = "in"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Sides:
    direction: Direction
    agent: Employee | None
    remote: str


Read = tuple[Sides, str | None, CallTarget | None]  # and the far side's E.164, his client


async def read_sides(record: CallRecord) -> Read:
    """The agent is the side whose user part is an employee's extension; the far side's number
    in E.164 and its client for him are read with him (targets.many_call_sides)."""
    [read] = await read_many([record], parse_numbers([record]))
    return read


def parse_numbers(records: Sequence[CallRecord]) -> list[tuple[str | None, str | None]]:
    """The E.164 forms of each call's caller and callee."""
    return [(e164_of(r.caller), e164_of(r.callee)) for r in records]


async def read_many(
    records: Sequence[CallRecord], numbers: Sequence[tuple[str | None, str | None]]
) -> list[Read]:
    """read_sides of several calls, in one statement but for calls of no employee."""
    found = await targets.many_call_sides(
        [(r.caller, r.callee, *e164s) for r, e164s in zip(records, numbers, strict=True)]
    )
    return [
        await _read(record, *e164s, sides)
        for record, e164s, sides in zip(records, numbers, found, strict=True)
    ]


async def _read(
    record: CallRecord, caller: str | None, callee: str | None, found: CallSides | None
) -> Read:
    if found is None:
        target = await targets.call_target(callee, None, None) if callee else None
        return Sides(Direction.UNKNOWN, None, record.callee), callee, target
    if found.outbound:
        return Sides(Direction.OUTBOUND, found.agent, record.callee), callee, found.target
    return Sides(Direction.INBOUND, found.agent, record.caller), caller, found.target
