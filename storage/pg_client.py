"""Tortoise's asyncpg client, whose pool returns a connection without a reset round trip.

Outside a transaction Tortoise takes a pooled connection for every statement, and asyncpg's pool
resets each one it gets back with `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
ALL`: one more round trip per statement, a third of an outcome press's (profiled on the webhook
bench: 11% of the bot's time). The store keeps nothing in a session to reset: its advisory locks
are transaction-scoped, it opens no cursors, listens to nothing and sets nothing, which PgBouncer's
transaction mode requires anyway. asyncpg still rolls back a transaction left open on release.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset (see the module's docstring)."""


class StorePostgresClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await super().create_pool(reset=_keep_session, **kwargs)


client_class = StorePostgresClient  # what Tortoise takes from an engine module
