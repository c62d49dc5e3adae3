"""call.caller/callee and invite.employee_id.

call.caller and call.callee are the user parts of the first INVITE's From and To as captured:
`remote` kept only the client's side, and nothing of a call no extension matched (direction
unknown). Rows from before keep '' (their remote is still there). invite.employee_id binds an
invite to an employee made without Telegram (`nextstep employees add`): redeeming it links his
Telegram account instead of making a new employee.
"""

from __future__ import annotations

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = """
ALTER TABLE "call" ADD "caller" VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE "call" ADD "callee" VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE "invite" ADD "employee_id" INT REFERENCES "employee" ("id") ON DELETE CASCADE;
"""

DOWNGRADE = """
ALTER TABLE "invite" DROP COLUMN "employee_id";
ALTER TABLE "call" DROP COLUMN "callee";
ALTER TABLE "call" DROP COLUMN "caller";
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE
