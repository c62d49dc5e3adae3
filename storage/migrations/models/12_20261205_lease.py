"""lease: the jobs one worker at a time runs (bot/leader.py), and who holds each until when."""

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
"""

DOWNGRADE = """
DROP TABLE IF EXISTS "lease";
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE.format(timestamp=TIMESTAMP[db.schema_generator.DIALECT])


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
