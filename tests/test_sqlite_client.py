"""The SQLite store's transactions open in one round trip through aiosqlite's thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from storage.db import close_store, open_store
from storage.models import Employee, Role
from storage.sqlite_client import StoreSqliteClient


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
