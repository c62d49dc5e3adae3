# ruff: noqa: E501  (generated DDL keeps its own line lengths)
"""contact.blocked and contact.tg_bot_id: why nothing may go to a client, and through which bot.

A 403 used to set `stopped` as if the client had said /stop; `blocked` keeps the two apart (the
rep is told which), and both are lifted when the client writes again. `tg_bot_id` is the bot
the client last wrote to: with a client bot running beside the staff bot, only the bot he
wrote to may write to him. Rows from before stay NULL: they are answered through the bot
clients write to (the client bot when there is one), as before.

The columns get a database default so rows written by plain INSERTs (the bench's bulk load)
need not name them.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
ALTER TABLE "contact" ADD "blocked" INT NOT NULL DEFAULT 0;
ALTER TABLE "contact" ADD "tg_bot_id" BIGINT;
""",
    "postgres": r"""
ALTER TABLE "contact" ADD "blocked" BOOL NOT NULL DEFAULT False;
ALTER TABLE "contact" ADD "tg_bot_id" BIGINT;
COMMENT ON COLUMN "timeline_event"."kind" IS 'CREATED: created\nOUTCOME: outcome\nSTAGE: stage\nCALL: call\nMSG_IN: msg_in\nMSG_OUT: msg_out\nNOTE: note\nASSIGN: assign\nSTOPPED: stopped\nRESUMED: resumed';
""",
}

DOWNGRADE = {
    "sqlite": """
ALTER TABLE "contact" DROP COLUMN "tg_bot_id";
ALTER TABLE "contact" DROP COLUMN "blocked";
""",
    "postgres": r"""
ALTER TABLE "contact" DROP COLUMN "tg_bot_id";
ALTER TABLE "contact" DROP COLUMN "blocked";
COMMENT ON COLUMN "timeline_event"."kind" IS 'CREATED: created\nOUTCOME: outcome\nSTAGE: stage\nCALL: call\nMSG_IN: msg_in\nMSG_OUT: msg_out\nNOTE: note\nASSIGN: assign';
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]
