"""What a call means for the pipeline: timeline, the agent's button pressed by itself, leads.

The SIP listener hands finished calls here. A call goes to the agent's own open deal with the
number, else to an open deal of his team, else it is logged on the contact alone. An unanswered
outbound call goes through the same apply_outcome a Telegram button uses; when that press cannot
be applied, the agent is told what was logged and where (crm/call_outcomes.py: what follows
the call's commit).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from crm.call_outcomes import AUTO_BUTTON, MISSED, CallEffect, call_line_data, follow_up
from crm.callsides import Direction, Sides, e164_of, parse_numbers, read_many, read_sides
from crm.calltypes import CallRecord
from crm.context import Crm
from crm.engine import Outcome, Press, StalePress, Status, apply_outcome
from crm.notices import Notice, NoticeKind, Notifier
from storage import targets, writes
from storage.models import Employee, EventKind
from storage.targets import CallTarget
from storage.writes import CallRow, EventRow

log = logging.getLogger(__name__)


class _Duplicate(Exception):
    """The call id was recorded before; the transaction rolls back."""


async def record_call(crm: Crm, record: CallRecord, notifier: Notifier) -> CallEffect:
    """Log a finished call on its deal and act on it. A call id seen before changes nothing."""
    sides, e164, target = await read_sides(record)
    try:
        outcome = await _log(crm, record, sides, e164, target)
    except _Duplicate:
        return CallEffect(duplicate=True, direction=sides.direction)
    return await follow_up(crm, record, sides, e164, target, outcome, notifier)


async def record_calls(
    crm: Crm, records: Sequence[CallRecord], notifier: Notifier
) -> list[CallEffect | Exception]:
    """Calls that waited together (a busy PBX's backlog), each as record_call records it, in
    one transaction: BEGIN, their agents and clients, their rows, their timeline lines and
    COMMIT are a statement each for them all (bench.telephony_bench). They are written in
    order, and a call whose deal a call before it pressed reads it again, so two calls to one
    client act as they would one after the other.

    Anything that fails in the batch (a call id seen before, a press that finds its deal
    changed, a store error) rolls it back, and each call is then recorded alone: one bad call
    loses none of the others, and the usual batch pays no savepoint per call (two statements).
    Each call's effect, or the exception its recording raised."""
    effects: list[CallEffect | Exception] = []
    rest = list(records)
    while len(rest) > 1:
        done, rest = await _batch(crm, rest, notifier)
        effects += done
    return effects + [await _settle(record_call(crm, record, notifier)) for record in rest]


async def _batch(
    crm: Crm, records: list[CallRecord], notifier: Notifier
) -> tuple[list[CallEffect | Exception], list[CallRecord]]:
    """The leading calls of `records` in one transaction, up to one that may open a lead: its
    lead is opened after its call is written, and a later call from the number must find it.
    Their effects, and the calls left."""
    written = []
    # Parsed before the transaction: on SQLite it holds the store's one connection, and the
    # numbers of the next batch are parsed while this one is written.
    numbers = parse_numbers(records)
    try:
        async with in_transaction():
            rows: list[CallRow] = []
            lines: list[EventRow] = []
            changed: set[int] = set()  # deals pressed by calls before
            for record, read in zip(records, await read_many(records, numbers), strict=True):
                sides, e164, target = read
                if target is not None and target.deal_id in changed:
                    sides, e164, target = await read_sides(record)  # read after the press
                if _may_open_lead(record, sides, e164, target):
                    break
                row, line = _rows(record, sides, e164, target)
                outcome = await _press(crm, record, sides, target, line, lines)
                written.append((record, sides, e164, target, outcome))
                if outcome is not None and outcome.deal_id is not None:
                    changed.add(outcome.deal_id)
                rows.append(row)
                lines += _unwritten(line, outcome)
            if rows:  # the calls' rows, and all their timeline lines, in a statement each
                await _insert_calls(rows)
            if lines:
                await writes.insert_events(lines)
    except Exception:  # what failed is found, and told, call by call
        log.info("a batch of %d calls failed together; each is recorded alone", len(records))
        return [await _settle(record_call(crm, record, notifier)) for record in records], []
    if not written:  # the first call may open a lead: alone
        return [await _settle(record_call(crm, records[0], notifier))], records[1:]
    effects = [await _settle(follow_up(crm, *call, notifier)) for call in written]
    return effects, records[len(written):]


def _may_open_lead(
    record: CallRecord, sides: Sides, e164: str | None, target: CallTarget | None
) -> bool:
    """A missed inbound call with no deal of the agent's team (_after_inbound)."""
    return (
        sides.direction == Direction.INBOUND and record.disposition in MISSED
        and e164 is not None and (target is None or target.deal_id is None)
    )  # fmt: skip


async def _settle(effect: Coroutine[Any, Any, CallEffect]) -> CallEffect | Exception:
    try:
        return await effect
    except Exception as error:  # the caller tells it, with its call
        return error


def _rows(
    record: CallRecord, sides: Sides, e164: str | None, target: CallTarget | None
) -> tuple[CallRow, EventRow | None]:
    """The call's row and its line on the deal's timeline (none without a deal)."""
    agent = sides.agent
    deal_id = target.deal_id if target else None
    row = CallRow(
        record.call_id, str(sides.direction), agent.id if agent else None,
        agent.sip_ext if agent else None, sides.remote, e164,
        target.contact_id if target else None, deal_id, str(record.disposition),
        record.sip_code, record.started_at, record.answered_at, record.ended_at,
        record.talk_seconds, record.caller, record.callee,
    )
    line = None
    if target is not None and deal_id is not None:
        line = EventRow(
            deal_id, EventKind.CALL, record.ended_at, actor_id=agent.id if agent else None,
            data=call_line_data(record, sides.direction, agent, target.owner_id),
        )
    return row, line


async def _log(
    crm: Crm, record: CallRecord, sides: Sides, e164: str | None, target: CallTarget | None
) -> Outcome | None:
    """The call, its line and the auto-press in one transaction. A press that finds the deal
    changed rolls it back; the call and its line are then written alone, so it is kept, once."""
    row, line = _rows(record, sides, e164, target)
    try:
        async with in_transaction():
            # The call first: on SQLite a transaction that writes first never finds the
            # database locked by another process's write.
            await _insert_calls([row])
            outcome = await _press(crm, record, sides, target, line)
            if lines := _unwritten(line, outcome):
                await writes.insert_events(lines)
            return outcome
    except _Duplicate:
        raise
    except StalePress as stale:
        outcome = stale.outcome
    except Exception:  # the press failed: the call is still kept, alone
        log.exception("call %s: the auto-press failed, the call is kept without it", record.call_id)
        outcome = None
    async with in_transaction():
        await _insert_calls([row])
        if line is not None:
            await writes.insert_events([line])
    return outcome


async def _press(
    crm: Crm, record: CallRecord, sides: Sides, target: CallTarget | None,
    line: EventRow | None, lines: list[EventRow] | None = None,
) -> Outcome | None:
    """The auto-press, if the call makes one, in the caller's transaction without a savepoint of
    its own: on SQLite's single connection every statement is a round trip through its thread,
    and a savepoint is two more. The call's line goes in with the press's lines when it is
    DONE (one statement), or into `lines` for the caller to write. StalePress when the deal
    changed under it: the caller rolls back."""
    press = _auto_press(record, sides, target)
    if press is None or target is None:
        return None
    return await apply_outcome(
        crm, press, target=target.press, events=(line,) if line else (),
        in_callers_transaction=True, lines=lines,
    )


def _unwritten(line: EventRow | None, outcome: Outcome | None) -> list[EventRow]:
    """The call's line when no press wrote it."""
    return [line] if line is not None and (outcome is None or outcome.status != Status.DONE) else []


async def _insert_calls(rows: Sequence[CallRow]) -> None:
    try:
        await writes.insert_calls(rows)
    except IntegrityError:
        raise _Duplicate from None


def _auto_press(record: CallRecord, sides: Sides, target: CallTarget | None) -> Press | None:
    """The no-answer button an unanswered outbound call presses for the agent, if any."""
    button = AUTO_BUTTON.get(record.disposition)
    if sides.direction != Direction.OUTBOUND or sides.agent is None or button is None:
        return None
    if target is None or target.task_id is None:
        return None
    return Press(
        target.task_id, button, sides.agent, source="sip", can_ask=False,
        data={"call_id": record.call_id, "sip_code": record.sip_code},
    )


async def ringing(crm: Crm, caller: str, callee: str, notifier: Notifier) -> int | None:
    """Screen pop: a known client calls an agent's extension; push his card. The deal id."""
    agent = await Employee.get_or_none(sip_ext=callee, active=True)
    e164 = e164_of(caller)
    if agent is None or e164 is None:
        return None
    target = await targets.call_target(e164, agent.id, agent.team)
    if target is None or target.deal_id is None:
        return None
    await notifier.notify(
        Notice(agent.id, NoticeKind.SCREEN_POP, task_id=target.task_id, deal_id=target.deal_id,
               params={"number": e164})
    )
    return target.deal_id
