"""lease: the jobs one worker at a time runs (bot/leader.py), and who holds each until when.
task.push_claim: until when a worker sending a due push holds it; a claim left by a killed worker
runs out and the push goes out from another (bot/scheduler.py)."""

from __future__ import annotations

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

TIMESTAMP = {"postgres": "TIMESTAMPTZ", "sqlite": "TIMESTAMP"}

UPGRADE = """
CREATE TABLE IF NOT EXISTS "lease" (
    "name" VARCHAR(64) NOT NULL PRIMARY KEY,
    "holder" VARCHAR(128) NOT NULL,
    "expires_at" {timestamp} NOT NULL,
    "note" VARCHAR(128) NOT NULL DEFAULT ''
);
ALTER TABLE "task" ADD "push_claim" {timestamp};
CREATE INDEX IF NOT EXISTS task_push_claim ON task (push_claim) WHERE push_claim IS NOT NULL;
"""

DOWNGRADE = """
DROP INDEX IF EXISTS task_push_claim;
ALTER TABLE "task" DROP COLUMN "push_claim";
DROP TABLE IF EXISTS "lease";
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE.format(timestamp=TIMESTAMP[db.schema_generator.DIALECT])


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
