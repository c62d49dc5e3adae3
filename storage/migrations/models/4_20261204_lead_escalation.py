"""task.escalate_at: when a lead nobody could take is raised to its team's supervisors again.

Only waiting leads carry it, and the clock's claim clears it, so the partial index holds just
the leads waiting now; the clock asks it every tick. DDL as Tortoise writes the column on each
dialect; the partial index as raw DDL, like the task indexes of migration 0.
"""

from __future__ import annotations

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

COLUMN = {
    "sqlite": 'ALTER TABLE "task" ADD "escalate_at" TIMESTAMP',
    "postgres": 'ALTER TABLE "task" ADD "escalate_at" TIMESTAMPTZ',
}
INDEX = "CREATE INDEX task_escalation ON task (escalate_at) WHERE escalate_at IS NOT NULL;"


async def upgrade(db: BaseDBAsyncClient) -> str:
    return f"{COLUMN[str(db.schema_generator.DIALECT)]};\n{INDEX}"


async def downgrade(db: BaseDBAsyncClient) -> str:
    return 'DROP INDEX IF EXISTS task_escalation; ALTER TABLE "task" DROP COLUMN "escalate_at";'
