"""Initial schema, plus the indexes Tortoise cannot express.

The partial unique index is the database's own guarantee of "one open task per open deal";
Tortoise's PartialIndex renders `IS NULL` conditions wrongly, so these are raw DDL valid on both
SQLite and PostgreSQL.
"""

from tortoise import BaseDBAsyncClient
from tortoise.utils import get_schema_sql

RUN_IN_TRANSACTION = True

PARTIAL_INDEXES = """
CREATE UNIQUE INDEX task_one_open_per_deal ON task (deal_id) WHERE status = 'open';
CREATE INDEX task_open_by_assignee ON task (assignee_id, due_at) WHERE status = 'open';
CREATE INDEX task_open_unassigned ON task (team, created_at)
    WHERE status = 'open' AND assignee_id IS NULL;
CREATE INDEX task_due_unpushed ON task (due_at) WHERE status = 'open' AND pushed_at IS NULL;
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return get_schema_sql(db, safe=False) + PARTIAL_INDEXES


async def downgrade(db: BaseDBAsyncClient) -> str:
    return ""
