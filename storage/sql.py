"""Raw statements through Tortoise's connection, written once for both stores."""

from __future__ import annotations

from typing import Any

from tortoise import connections

from storage.db import dialect


def placeholders(sql: str) -> str:
    """Write statements with '?' and get '$1, $2…' on PostgreSQL."""
    if dialect() != "postgres":
        return sql
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


def skip_locked() -> str:
    return "FOR UPDATE SKIP LOCKED" if dialect() == "postgres" else ""


async def fetch_rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = connections.get("default")
    return list(await conn.execute_query_dict(placeholders(sql), list(args)))
