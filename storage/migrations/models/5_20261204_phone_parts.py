# ruff: noqa: E501  (generated DDL keeps its own line lengths)
"""phone_part: every suffix of 4 digits or more of every contact's number, indexed by part.

/find found a phone only by the whole E.164; any run of 4 or more digits inside a number is the
start of one of its suffixes, so a part typed becomes a range scan of this index (crm.phonebook
writes the parts beside every new number). The DDL is what Tortoise generated for the PhonePart
model on each dialect; the numbers already stored get their parts here, a batch at a time, cut
as crm.phonebook.phone_parts cuts them (repeated here: a migration keeps its own copy of what it
writes, whatever the code becomes).

The statements run here through execute_query, not as the returned script, because the backfill
must follow the DDL; all of it is in aerich's transaction.
"""

from __future__ import annotations

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

TABLE = {
    "sqlite": [
        """CREATE TABLE "phone_part" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "part" VARCHAR(20) NOT NULL,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE
) /* A suffix of a contact's number, 4 digits or more: searches find any part of a number here. */""",
        """CREATE INDEX "idx_phone_part_part_eabaed" ON "phone_part" ("part", "contact_id")""",
    ],
    "postgres": [
        """CREATE TABLE "phone_part" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "part" VARCHAR(20) NOT NULL,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE
)""",
        """CREATE INDEX "idx_phone_part_part_eabaed" ON "phone_part" ("part", "contact_id")""",
        """COMMENT ON TABLE "phone_part" IS 'A suffix of a contact''s number, 4 digits or more: searches find any part of a number here.'""",
    ],
}

MIN_PART = 4
BATCH = 10_000
PHONES = {
    "sqlite": "SELECT id, contact_id, e164 FROM contact_phone WHERE id > ? ORDER BY id LIMIT ?",
    "postgres": "SELECT id, contact_id, e164 FROM contact_phone WHERE id > $1 ORDER BY id LIMIT $2",
}
INSERT = {
    "sqlite": "INSERT INTO phone_part (contact_id, part) VALUES (?, ?)",
    "postgres": "INSERT INTO phone_part (contact_id, part) VALUES ($1, $2)",
}


async def _backfill(db: BaseDBAsyncClient, dialect: str) -> None:
    last = 0
    while True:
        _, rows = await db.execute_query(PHONES[dialect], [last, BATCH])
        if not rows:
            break
        pairs = []
        for row in rows:
            digits = str(row["e164"]).lstrip("+")
            pairs += [(row["contact_id"], digits[i:]) for i in range(len(digits) - MIN_PART + 1)]
        if pairs:
            await db.execute_many(INSERT[dialect], pairs)
        last = rows[-1]["id"]


async def upgrade(db: BaseDBAsyncClient) -> str:
    dialect = str(db.schema_generator.DIALECT)
    for statement in TABLE[dialect]:
        await db.execute_query(statement)
    await _backfill(db, dialect)
    # aerich runs the script returned after this: PostgreSQL gets the filled table's statistics
    # for its planner (and refuses an empty script); SQLite needs nothing more.
    return 'ANALYZE "phone_part";' if dialect == "postgres" else ""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return 'DROP TABLE IF EXISTS "phone_part";'
