"""Round trips through aiosqlite's thread on the SQLite store: its one connection runs every
statement in turn, so they bound how many captured calls and presses it writes a second."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from config.playbook import load_playbook
from crm.call_outcomes import CallEffect
from crm.calls import record_call, record_calls
from crm.calltypes import CallRecord, Disposition
from crm.clock import FakeClock
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Status
from storage.db import close_store, open_store
from storage.models import Employee, Role, TimelineEvent
from storage.sqlite_client import StoreSqliteClient
from tests.conftest import T0
from tests.test_calls import RecordingNotifier


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[None]:
    await open_store(f"sqlite://{tmp_path / 'store.sqlite3'}")
    await Employee.all().count()  # connected: its PRAGMAs are sent
    yield
    await close_store()


def _record(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the store sends through the connection's thread besides its queries (which go
    through execute_fetchall): BEGIN, savepoints, commits."""
    sent: list[str] = []
    execute, commit = aiosqlite.Connection.execute, aiosqlite.Connection.commit

    def recording_execute(self: aiosqlite.Connection, sql: str, *args: Any) -> Any:
        sent.append(sql.split()[0])
        return execute(self, sql, *args)

    async def recording_commit(self: aiosqlite.Connection) -> None:
        sent.append("commit")
        await commit(self)

    monkeypatch.setattr(aiosqlite.Connection, "execute", recording_execute)
    monkeypatch.setattr(aiosqlite.Connection, "commit", recording_commit)
    return sent


async def test_a_transaction_opens_with_begin_alone(
    sqlite_store: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(connections.get("default"), StoreSqliteClient)
    sent = _record(monkeypatch)
    async with in_transaction() as tx:
        await tx.execute_query("UPDATE employee SET name = name WHERE id = 0")
    assert sent == ["BEGIN", "commit"]  # Tortoise's own client sends a commit before BEGIN


async def test_a_transaction_left_open_is_committed_first(
    sqlite_store: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    await connections.get("default").execute_script("BEGIN")
    await Employee.create(name="Ivan", role=Role.REP, sip_ext="101")
    sent = _record(monkeypatch)
    async with in_transaction():
        await Employee.create(name="Boris", role=Role.REP, sip_ext="102")
    assert sent[:2] == ["commit", "BEGIN"]
    assert await Employee.all().count() == 2


def _count_trips(patch: pytest.MonkeyPatch) -> list[int]:
    """Every call into aiosqlite's connection, each one trip through its thread."""
    trips = [0]

    def counted(method: Any) -> Any:
        def call_counted(*args: Any) -> Any:
            trips[0] += 1
            return method(*args)

        return call_counted

    for name in ("execute", "execute_fetchall", "execute_insert", "commit", "rollback"):
        patch.setattr(aiosqlite.Connection, name, counted(getattr(aiosqlite.Connection, name)))
    return trips


async def _busy_calls(crm: Crm, count: int) -> list[CallRecord]:
    """Busy calls of agent 101 to `count` clients, each with his open deal."""
    agent = await Employee.create(name="agent", role=Role.REP, sip_ext="101")
    calls = []
    for n in range(count):
        number = f"+7495123456{n}"
        added = await quick_add(
            crm, ContactDraft(f"Client {n}", (number,)), owner_id=agent.id, team="main"
        )
        assert added.deal is not None
        calls.append(
            CallRecord(
                call_id=f"c{n}", caller="101", callee="8" + number.removeprefix("+7"),
                disposition=Disposition.BUSY, sip_code=486, started_at=T0, rang=True,
                answered_at=None, ended_at=T0,
            )
        )
    return calls


async def test_a_busy_captured_call_is_eight_round_trips(sqlite_store: None) -> None:
    """Its agent and client (one SELECT), BEGIN, the call, the press's four writes, COMMIT:
    no savepoint, no COMMIT before BEGIN (it was twelve)."""
    crm = Crm(load_playbook(), FakeClock(T0))
    [call] = await _busy_calls(crm, 1)
    with pytest.MonkeyPatch.context() as patch:
        trips = _count_trips(patch)
        effect = await record_call(crm, call, RecordingNotifier())

    assert effect.outcome is not None and effect.outcome.status == Status.DONE
    assert await TimelineEvent.filter(kind="call").count() == 1
    assert trips == [8]


async def test_a_batch_of_busy_calls_is_three_round_trips_a_call(sqlite_store: None) -> None:
    """Each call's press: close the task, update the deal, insert the next task; BEGIN, the
    calls' agents and clients, their rows, all their timeline lines (a statement each) and
    COMMIT once for the batch: 17 trips for four calls, where alone they take 32."""
    crm = Crm(load_playbook(), FakeClock(T0))
    calls = await _busy_calls(crm, 4)
    with pytest.MonkeyPatch.context() as patch:
        trips = _count_trips(patch)
        effects = await record_calls(crm, calls, RecordingNotifier())

    assert all(isinstance(e, CallEffect) and e.outcome and e.outcome.status == Status.DONE
               for e in effects)  # fmt: skip
    assert await TimelineEvent.filter(kind="call").count() == 4
    assert trips == [5 + 3 * 4]
