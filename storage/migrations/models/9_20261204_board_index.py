"""deal_board_team and deal_board_stage: the pipeline board's open deals by stage.

Partial indexes over open deals only (a third of a year's deals), ending in the amount so the
board's counts and sums per stage are read from the index alone, and holding the id so a stage's
cards come newest first a page at a time (storage/board.py). One serves a team (a supervisor's
board), the other the whole store (an admin's). The same DDL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = """
CREATE INDEX IF NOT EXISTS deal_board_team ON deal (team, stage, id, amount) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS deal_board_stage ON deal (stage, id, amount) WHERE status = 'open';
"""

DOWNGRADE = """
DROP INDEX IF EXISTS deal_board_stage;
DROP INDEX IF EXISTS deal_board_team;
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
