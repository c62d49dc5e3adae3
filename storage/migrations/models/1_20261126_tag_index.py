# ruff: noqa: E501  (generated DDL keeps its own line lengths)
"""contact_tag and deal_tag: the case-folded tags of every contact and deal, indexed by tag.

/find looked a tag up in the JSON lists of every deal and its contact (1.5 s at 1M deals on
SQLite for a tag nobody has); neither SQLite nor PostgreSQL can index a case-insensitive match of
a JSON list's elements. The tables are the DDL Tortoise generated for the ContactTag and DealTag
models on each dialect. Existing tags are indexed here, folded in Python with str.casefold as
crm.tags.fold does (SQLite's lower() folds ASCII letters only).

The statements run here through execute_query, not as the returned script, because the backfill
must follow the DDL; all of it is in aerich's transaction.
"""

from __future__ import annotations

import json

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

TABLES = {
    "sqlite": [
        """CREATE TABLE "contact_tag" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "tag" TEXT NOT NULL,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_contact_tag_contact_e73f31" UNIQUE ("contact_id", "tag")
) /* One of Contact.tags, case-folded: tag searches look here, by index, not in the lists. */""",
        """CREATE INDEX "idx_contact_tag_tag_ccf2bb" ON "contact_tag" ("tag", "contact_id")""",
        """CREATE TABLE "deal_tag" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "tag" TEXT NOT NULL,
    "deal_id" INT NOT NULL REFERENCES "deal" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_deal_tag_deal_id_456cfe" UNIQUE ("deal_id", "tag")
) /* One of Deal.tags, case-folded: tag searches look here, by index, not in the lists. */""",
        """CREATE INDEX "idx_deal_tag_tag_093d73" ON "deal_tag" ("tag", "deal_id")""",
    ],
    "postgres": [
        """CREATE TABLE "contact_tag" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "tag" TEXT NOT NULL,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_contact_tag_contact_e73f31" UNIQUE ("contact_id", "tag")
)""",
        """CREATE INDEX "idx_contact_tag_tag_ccf2bb" ON "contact_tag" ("tag", "contact_id")""",
        """COMMENT ON TABLE "contact_tag" IS 'One of Contact.tags, case-folded: tag searches look here, by index, not in the lists.'""",
        """CREATE TABLE "deal_tag" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "tag" TEXT NOT NULL,
    "deal_id" INT NOT NULL REFERENCES "deal" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_deal_tag_deal_id_456cfe" UNIQUE ("deal_id", "tag")
)""",
        """CREATE INDEX "idx_deal_tag_tag_093d73" ON "deal_tag" ("tag", "deal_id")""",
        """COMMENT ON TABLE "deal_tag" IS 'One of Deal.tags, case-folded: tag searches look here, by index, not in the lists.'""",
    ],
}

# (owner table, tag table, owner column): rows with a non-empty list, a batch at a time by id.
OWNERS = (("contact", "contact_tag", "contact_id"), ("deal", "deal_tag", "deal_id"))
BATCH = 10_000
TAGGED = {
    "sqlite": "SELECT id, tags FROM {owner} WHERE id > ? AND json_array_length(tags) > 0 ORDER BY id LIMIT ?",
    "postgres": "SELECT id, tags FROM {owner} WHERE id > $1 AND jsonb_array_length(tags) > 0 ORDER BY id LIMIT $2",
}
INSERT = {
    "sqlite": "INSERT INTO {table} ({column}, tag) VALUES (?, ?)",
    "postgres": "INSERT INTO {table} ({column}, tag) VALUES ($1, $2)",
}


async def _backfill(db: BaseDBAsyncClient, dialect: str) -> None:
    for owner, table, column in OWNERS:
        last = 0
        while True:
            _, rows = await db.execute_query(TAGGED[dialect].format(owner=owner), [last, BATCH])
            if not rows:
                break
            pairs = []
            for row in rows:
                tags = json.loads(row["tags"]) if isinstance(row["tags"], str) else row["tags"]
                folded = dict.fromkeys(str(t).casefold() for t in tags)
                pairs += [(row["id"], t) for t in folded if t]
            if pairs:
                await db.execute_many(INSERT[dialect].format(table=table, column=column), pairs)
            last = rows[-1]["id"]


async def upgrade(db: BaseDBAsyncClient) -> str:
    dialect = str(db.schema_generator.DIALECT)
    for statement in TABLES[dialect]:
        await db.execute_query(statement)
    await _backfill(db, dialect)
    # aerich runs the script returned after this: PostgreSQL gets the filled tables' statistics
    # for its planner (and refuses an empty script); SQLite needs nothing more.
    return 'ANALYZE "contact_tag"; ANALYZE "deal_tag";' if dialect == "postgres" else ""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return 'DROP TABLE IF EXISTS "deal_tag"; DROP TABLE IF EXISTS "contact_tag";'
