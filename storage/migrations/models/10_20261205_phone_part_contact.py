"""phone_part by contact_id: a contact's number parts without reading the whole table.

phone_part's one index starts with the part (the search's range scan), so deleting a contact
(the cascade), merging one (its parts move) or reading a contact's parts scanned every part of
every number. The index is the one Tortoise generates for PhonePart.Meta.indexes on both
dialects, so the migrated store is the models' store.
"""

from __future__ import annotations

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = """
CREATE INDEX IF NOT EXISTS "idx_phone_part_contact_7822c9" ON "phone_part" ("contact_id");
"""

DOWNGRADE = """
DROP INDEX IF EXISTS "idx_phone_part_contact_7822c9";
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
