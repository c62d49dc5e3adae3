"""The PostgreSQL store's pool (storage/pg_client.py): a pooled statement is one round trip, a
connection given back inside a transaction is still rolled back before anyone reuses it, and the
product says nothing that would outlive a statement on a pooled connection."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise import connections

from storage.db import close_store, open_store
from storage.models import Employee
from storage.pg_client import StorePostgresClient

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "telephony", "storage", "config", "crm", "cli", "board", "sandbox",
           "mail")
# Session state the pool no longer resets: a SET that is not LOCAL, LISTEN, a session advisory
# lock, a temporary table (the store's SQL is upper case; its docstrings are not).
SESSION_STATE = re.compile(
    r"(?:[\"';]|^)\s*SET (?!LOCAL\b)|\bLISTEN\s|pg_(?:try_)?advisory_lock\(|CREATE TEMP"
)


def test_the_product_keeps_nothing_in_a_database_session() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in PRODUCT
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in (".py", ".sql")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if SESSION_STATE.search(line)
    ]
    assert found == []


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[None]:
    await open_store(f"{pg_url}?minsize=1&maxsize=1")  # one connection: the next use is the same
    await Employee.all().count()  # the pool is made on first use
    yield
    await close_store()


@pytest.mark.postgres
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


@pytest.mark.postgres
async def test_a_connection_given_back_in_a_transaction_is_rolled_back(pg_store: None) -> None:
    pool = connections.get("default")._pool
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE scratch (n int)")
    async with pool.acquire() as conn:  # the same connection, the pool holds one
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('scratch')") is None
