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
from crm.calls import record_call
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


async def test_a_busy_captured_call_is_eight_round_trips(sqlite_store: None) -> None:
    """Its agent and client (one SELECT), BEGIN, the call, the press's four writes, COMMIT:
    no savepoint, no COMMIT before BEGIN (it was twelve)."""
    crm = Crm(load_playbook(), FakeClock(T0))
    agent = await Employee.create(name="agent", role=Role.REP, sip_ext="101")
    added = await quick_add(
        crm, ContactDraft("Anna", ("+74951234567",)), owner_id=agent.id, team="main"
    )
    assert added.deal is not None
    call = CallRecord(
        call_id="c1", caller="101", callee="84951234567", disposition=Disposition.BUSY,
        sip_code=486, started_at=T0, rang=True, answered_at=None, ended_at=T0,
    )
    trips = 0

    def counted(method: Any) -> Any:
        def call_counted(*args: Any) -> Any:
            nonlocal trips
            trips += 1
            return method(*args)

        return call_counted

    with pytest.MonkeyPatch.context() as patch:
        for name in ("execute", "execute_fetchall", "execute_insert", "commit", "rollback"):
            patch.setattr(aiosqlite.Connection, name, counted(getattr(aiosqlite.Connection, name)))
        effect = await record_call(crm, call, RecordingNotifier())

    assert effect.outcome is not None and effect.outcome.status == Status.DONE
    assert await TimelineEvent.filter(deal_id=added.deal.id, kind="call").count() == 1
    assert trips == 8
