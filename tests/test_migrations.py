"""The migrated schema is the models' schema: a model change without a migration fails here."""

from __future__ import annotations

from tortoise import Tortoise, connections

from storage.db import dialect


async def _columns(table: str) -> set[str]:
    conn = connections.get("default")
    if dialect(conn) == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1",
            [table],
        )
    else:
        rows = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
    return {row["name"] for row in rows}


async def _indexes() -> set[str]:
    conn = connections.get("default")
    if dialect(conn) == "postgres":
        rows = await conn.execute_query_dict("SELECT indexname AS name FROM pg_indexes")
    else:
        rows = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {row["name"] for row in rows}


async def test_every_model_column_exists_after_migrating(db_url: str) -> None:
    for model in Tortoise.apps["models"].values():
        meta = model._meta
        assert set(meta.fields_db_projection.values()) <= await _columns(meta.db_table), (
            meta.db_table
        )


async def test_the_partial_indexes_exist(db_url: str) -> None:
    expected = {"task_one_open_per_deal", "task_open_by_assignee", "task_due_unpushed"}
    assert expected <= await _indexes()
