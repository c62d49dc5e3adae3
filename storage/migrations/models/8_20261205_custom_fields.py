# ruff: noqa: E501  (generated DDL keeps its own line lengths)
"""contact_field and deal_field: custom field values, one row per value, indexed by key and value;
field_def: the fields as the admin edits them in /pipeline (seeded from the playbook at start).

Contacts and deals kept custom data in a JSON column ("custom") that no rep could see or set and
no search could use without reading every row. The tables are the DDL Tortoise generated for the
ContactField and DealField models on each dialect; every key of the old JSON moves into them (a
list becomes a row per element), folded in Python with str.casefold as crm.fields does, and the
JSON columns go. Downgrading writes the values back into JSON columns.

The statements run here through execute_query, not as the returned script, because the move
must follow the DDL; all of it is in aerich's transaction.
"""

from __future__ import annotations

import json
from typing import Any

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

OWNERS = ("contact", "deal")
TABLES = {
    "sqlite": [
        """CREATE TABLE "contact_field" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(32) NOT NULL,
    "value" TEXT NOT NULL,
    "folded" VARCHAR(200) NOT NULL,
    "number" REAL,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE
) /* A custom field's value on a contact (a multi-choice field has a row per option). */""",
        """CREATE INDEX "idx_contact_fie_contact_a29dbd" ON "contact_field" ("contact_id")""",
        """CREATE INDEX "idx_contact_fie_key_e3ef92" ON "contact_field" ("key", "folded", "contact_id")""",
        """CREATE TABLE "deal_field" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(32) NOT NULL,
    "value" TEXT NOT NULL,
    "folded" VARCHAR(200) NOT NULL,
    "number" REAL,
    "deal_id" INT NOT NULL REFERENCES "deal" ("id") ON DELETE CASCADE
) /* A custom field's value on a deal (a multi-choice field has a row per option). */""",
        """CREATE INDEX "idx_deal_field_deal_id_a5d3e8" ON "deal_field" ("deal_id")""",
        """CREATE INDEX "idx_deal_field_key_72718b" ON "deal_field" ("key", "folded", "deal_id")""",
        """CREATE TABLE "field_def" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(32) NOT NULL UNIQUE,
    "position" SMALLINT NOT NULL,
    "spec" JSON NOT NULL,
    "removed" INT NOT NULL
)""",
    ],
    "postgres": [
        """CREATE TABLE "contact_field" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(32) NOT NULL,
    "value" TEXT NOT NULL,
    "folded" VARCHAR(200) NOT NULL,
    "number" DOUBLE PRECISION,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE
)""",
        """CREATE INDEX "idx_contact_fie_contact_a29dbd" ON "contact_field" ("contact_id")""",
        """CREATE INDEX "idx_contact_fie_key_e3ef92" ON "contact_field" ("key", "folded", "contact_id")""",
        """COMMENT ON TABLE "contact_field" IS 'A custom field''s value on a contact (a multi-choice field has a row per option).'""",
        """CREATE TABLE "deal_field" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(32) NOT NULL,
    "value" TEXT NOT NULL,
    "folded" VARCHAR(200) NOT NULL,
    "number" DOUBLE PRECISION,
    "deal_id" INT NOT NULL REFERENCES "deal" ("id") ON DELETE CASCADE
)""",
        """CREATE INDEX "idx_deal_field_deal_id_a5d3e8" ON "deal_field" ("deal_id")""",
        """CREATE INDEX "idx_deal_field_key_72718b" ON "deal_field" ("key", "folded", "deal_id")""",
        """COMMENT ON TABLE "deal_field" IS 'A custom field''s value on a deal (a multi-choice field has a row per option).'""",
        """CREATE TABLE "field_def" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(32) NOT NULL UNIQUE,
    "position" SMALLINT NOT NULL,
    "spec" JSONB NOT NULL,
    "removed" BOOL NOT NULL
)""",
    ],
}
JSON_TYPE = {"sqlite": "JSON", "postgres": "JSONB"}
BATCH = 10_000
CUSTOM = {
    "sqlite": "SELECT id, custom FROM {owner} WHERE id > ? AND custom <> '{{}}' ORDER BY id LIMIT ?",
    "postgres": "SELECT id, custom FROM {owner} WHERE id > $1 AND custom <> '{{}}'::jsonb ORDER BY id LIMIT $2",
}
INSERT = {
    "sqlite": "INSERT INTO {owner}_field ({owner}_id, key, value, folded, number) VALUES (?, ?, ?, ?, ?)",
    "postgres": "INSERT INTO {owner}_field ({owner}_id, key, value, folded, number) VALUES ($1, $2, $3, $4, $5)",
}
VALUES = 'SELECT {owner}_id AS id, key, value, number FROM {owner}_field ORDER BY {owner}_id, id'
RESTORE = {
    "sqlite": "UPDATE {owner} SET custom = ? WHERE id = ?",
    "postgres": "UPDATE {owner} SET custom = $1::jsonb WHERE id = $2",
}


def _rows(owner_id: int, custom: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for key, value in custom.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None or item == "":
                continue
            number = item if isinstance(item, int | float) and not isinstance(item, bool) else None
            text = str(item)
            rows.append((owner_id, str(key)[:32], text, text.casefold()[:200], number))
    return rows


async def _move(db: BaseDBAsyncClient, dialect: str, owner: str) -> None:
    last = 0
    while True:
        _, found = await db.execute_query(CUSTOM[dialect].format(owner=owner), [last, BATCH])
        if not found:
            break
        rows = []
        for row in found:
            custom = row["custom"]
            custom = json.loads(custom) if isinstance(custom, str) else custom
            rows += _rows(row["id"], custom if isinstance(custom, dict) else {})
        if rows:
            await db.execute_many(INSERT[dialect].format(owner=owner), rows)
        last = found[-1]["id"]


async def upgrade(db: BaseDBAsyncClient) -> str:
    dialect = str(db.schema_generator.DIALECT)
    for statement in TABLES[dialect]:
        await db.execute_query(statement)
    for owner in OWNERS:
        await _move(db, dialect, owner)
        await db.execute_query(f'ALTER TABLE "{owner}" DROP COLUMN "custom"')
    return 'ANALYZE "contact_field"; ANALYZE "deal_field";' if dialect == "postgres" else ""


async def downgrade(db: BaseDBAsyncClient) -> str:
    dialect = str(db.schema_generator.DIALECT)
    for owner in OWNERS:
        await db.execute_query(
            f"""ALTER TABLE "{owner}" ADD "custom" {JSON_TYPE[dialect]} NOT NULL DEFAULT '{{}}'"""
        )
        _, rows = await db.execute_query(VALUES.format(owner=owner))
        custom: dict[int, dict[str, Any]] = {}
        for row in rows:
            values = custom.setdefault(row["id"], {})
            number = row["number"]
            value = row["value"] if number is None else int(number) if number.is_integer() else number
            # A key seen twice was a multi-choice field: a list again.
            if row["key"] in values:
                old = values[row["key"]]
                values[row["key"]] = [*(old if isinstance(old, list) else [old]), value]
            else:
                values[row["key"]] = value
        if custom:
            await db.execute_many(
                RESTORE[dialect].format(owner=owner),
                [(json.dumps(v, ensure_ascii=False), k) for k, v in custom.items()],
            )
    return (
        'DROP TABLE IF EXISTS "field_def"; DROP TABLE IF EXISTS "deal_field";'
        ' DROP TABLE IF EXISTS "contact_field";'
    )
