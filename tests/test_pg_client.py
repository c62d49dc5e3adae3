"""The PostgreSQL store's pool (storage/pg_client.py): a pooled statement is one round trip, and
a connection given back inside a transaction is still rolled back before anyone reuses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from tortoise import connections

from storage.db import close_store, open_store
from storage.models import Employee
from storage.pg_client import StorePostgresClient

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[None]:
    await open_store(f"{pg_url}?minsize=1&maxsize=1")  # one connection: the next use is the same
    await Employee.all().count()  # the pool is made on first use
    yield
    await close_store()


async def test_a_statement_outside_a_transaction_sends_no_reset(
    pg_store: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(connections.get("default"), StorePostgresClient)
    sent: list[str] = []  # simple-protocol queries: asyncpg's reset on release is one
    execute = asyncpg.connection.Connection.execute

    async def recording(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
        sent.append(query)
        return await execute(self, query, *args, **kw)

    monkeypatch.setattr(asyncpg.connection.Connection, "execute", recording)
    assert await Employee.all().count() == 0
    assert await Employee.filter(tg_id=1).first() is None
    assert sent == []


async def test_a_connection_given_back_in_a_transaction_is_rolled_back(pg_store: None) -> None:
    pool = connections.get("default")._pool
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE scratch (n int)")
    async with pool.acquire() as conn:  # the same connection, the pool holds one
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('scratch')") is None
