"""Migration 8 moves the old JSON `custom` data of contacts and deals into the indexed field
tables, and its downgrade writes it back (SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib
import json

from tortoise import connections
from tortoise.transactions import in_transaction

from storage.db import dialect
from storage.models import Contact, ContactField, Deal, DealField
from tests.conftest import T0

FIELDS = importlib.import_module("storage.migrations.models.8_20261205_custom_fields")


async def test_custom_json_moves_into_the_field_tables_and_back(db_url: str) -> None:
    anna = await Contact.create(name="Anna", created_at=T0)
    deal = await Deal.create(contact=anna, stage="new", created_at=T0, stage_changed_at=T0)
    conn = connections.get("default")
    async with in_transaction() as tx:
        await tx.execute_script(await FIELDS.downgrade(tx))
    mark = "$1" if dialect(conn) == "postgres" else "?"
    cast = "::jsonb" if dialect(conn) == "postgres" else ""
    await conn.execute_query(
        f"UPDATE contact SET custom = {mark}{cast}",
        [json.dumps({"city": "Казань", "empty": ""}, ensure_ascii=False)],
    )
    await conn.execute_query(
        f"UPDATE deal SET custom = {mark}{cast}", [json.dumps({"seats": 12, "tools": ["a", "b"]})]
    )

    async with in_transaction() as tx:  # as aerich runs it
        await tx.execute_script(await FIELDS.upgrade(tx))

    assert await ContactField.all().values_list("contact_id", "key", "value", "folded") == [
        (anna.id, "city", "Казань", "казань")
    ]
    rows = await DealField.all().order_by("id").values_list("key", "value", "number")
    assert rows == [("seats", "12", 12.0), ("tools", "a", None), ("tools", "b", None)]

    async with in_transaction() as tx:
        await tx.execute_script(await FIELDS.downgrade(tx))
    [back] = await conn.execute_query_dict("SELECT custom FROM deal")
    custom = back["custom"]
    assert (json.loads(custom) if isinstance(custom, str) else custom) == {
        "seats": 12, "tools": ["a", "b"]
    }
    async with in_transaction() as tx:
        await tx.execute_script(await FIELDS.upgrade(tx))
    assert await DealField.filter(deal_id=deal.id).count() == 3
