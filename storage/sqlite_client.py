"""Tortoise's SQLite client, with a transaction that opens in one statement.

On SQLite's one connection every statement is a round trip through aiosqlite's thread, and a
captured call or a button press is a handful of them (bench/telephony_bench.py). Tortoise opens
each transaction with a COMMIT (a no-op but for a transaction left open) and then BEGIN; here
the COMMIT is sent only when a transaction is in fact open, which the connection tells without
a round trip. Tortoise's own bookkeeping (the lock, the context, commit, rollback) is unchanged.
"""

from __future__ import annotations

import sqlite3

from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import TransactionManagementError


class _Transaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            if self._connection.in_transaction:
                await self._connection.commit()
            await self._connection.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class StoreSqliteClient(SqliteClient):
    def _in_transaction(self) -> SqliteTransactionContext:
        return SqliteTransactionContext(_Transaction(self), self._lock)


client_class = StoreSqliteClient  # what Tortoise takes from an engine module
