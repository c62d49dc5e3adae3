"""The migrated schema is the models' schema: a model change without a migration fails here."""

from __future__ import annotations

import importlib
import re

from tortoise import Tortoise, connections
from tortoise.transactions import in_transaction
from tortoise.utils import get_schema_sql

from storage.db import dialect
from storage.models import Contact, ContactTag, Deal, DealTag
from tests.conftest import T0

TAG_INDEX = importlib.import_module("storage.migrations.models.1_20261126_tag_index")


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


async def test_every_model_index_exists_after_migrating(db_url: str) -> None:
    # The names Tortoise gives the models' indexes (Meta.indexes, db_index) on this dialect.
    schema = get_schema_sql(connections.get("default"), safe=False)
    wanted = set(re.findall(r'CREATE (?:UNIQUE )?INDEX "(\w+)"', schema))
    assert "idx_phone_part_contact_7822c9" in wanted
    assert wanted <= await _indexes()


async def test_the_partial_indexes_exist(db_url: str) -> None:
    expected = {
        "task_one_open_per_deal", "task_open_by_assignee", "task_due_unpushed", "task_escalation"
    }
    assert expected <= await _indexes()


async def test_the_tag_migration_indexes_existing_tags_folded(db_url: str) -> None:
    # Back to the store as it was before the tag index, with tags written then.
    conn = connections.get("default")
    await conn.execute_script(await TAG_INDEX.downgrade(conn))
    contact = await Contact.create(name="Anna", tags=["VIP", "Опт", "vip"], created_at=T0)
    plain = await Contact.create(name="Boris", created_at=T0)
    deal = await Deal.create(
        contact=contact, stage="new", tags=["Hot"], created_at=T0, stage_changed_at=T0
    )
    await Deal.create(contact=plain, stage="new", created_at=T0, stage_changed_at=T0)

    # As aerich runs it.
    async with in_transaction() as tx:
        await tx.execute_script(await TAG_INDEX.upgrade(tx))

    assert sorted(await ContactTag.all().values_list("contact_id", "tag")) == [
        (contact.id, "vip"),
        (contact.id, "опт"),
    ]
    assert await DealTag.all().values_list("deal_id", "tag") == [(deal.id, "hot")]
