"""employee.recent_regions: the regions a rep picked lately, first in the card's region list.

DDL as Tortoise writes a JSON field on each dialect; existing employees start with none.
"""

from __future__ import annotations

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

COLUMN = {
    "sqlite": """ALTER TABLE "employee" ADD "recent_regions" JSON NOT NULL DEFAULT '[]'""",
    "postgres": """ALTER TABLE "employee" ADD "recent_regions" JSONB NOT NULL DEFAULT '[]'""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return COLUMN[str(db.schema_generator.DIALECT)] + ";"


async def downgrade(db: BaseDBAsyncClient) -> str:
    return 'ALTER TABLE "employee" DROP COLUMN "recent_regions";'
