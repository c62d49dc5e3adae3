# ruff: noqa: E501  (generated DDL keeps its own line lengths)
"""The e-mail channel: contact_email (a contact's other addresses), mailbox (each watched
folder's UIDVALIDITY and last UID handled) and letter (every letter in and out; the unique
mailbox + uidvalidity + uid is how a worker claims an incoming one). The DDL is what Tortoise
generated for the models on each dialect.
"""

from __future__ import annotations

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_SQLITE = """
CREATE TABLE IF NOT EXISTS "contact_email" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "address" VARCHAR(254) NOT NULL UNIQUE,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_contact_ema_contact_cb71d8" ON "contact_email" ("contact_id");
CREATE TABLE IF NOT EXISTS "mailbox" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(255) NOT NULL UNIQUE,
    "uidvalidity" BIGINT NOT NULL DEFAULT 0,
    "last_uid" BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS "letter" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "mailbox" VARCHAR(255) NOT NULL,
    "uidvalidity" BIGINT NOT NULL DEFAULT 0,
    "uid" BIGINT,
    "message_id" VARCHAR(998) NOT NULL DEFAULT '',
    "references" TEXT NOT NULL DEFAULT '',
    "incoming" INT NOT NULL DEFAULT 1,
    "sender" VARCHAR(254) NOT NULL DEFAULT '',
    "subject" TEXT NOT NULL DEFAULT '',
    "text" TEXT NOT NULL DEFAULT '',
    "attachments" JSON NOT NULL DEFAULT '[]',
    "replied_at" TIMESTAMP,
    "moved_at" TIMESTAMP,
    "at" TIMESTAMP NOT NULL,
    "contact_id" INT REFERENCES "contact" ("id") ON DELETE SET NULL,
    "deal_id" INT REFERENCES "deal" ("id") ON DELETE SET NULL,
    "employee_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "chat_message_id" INT REFERENCES "chat_message" ("id") ON DELETE SET NULL,
    CONSTRAINT "uid_letter_mailbox_21f469" UNIQUE ("mailbox", "uidvalidity", "uid")
);
CREATE INDEX IF NOT EXISTS "idx_letter_deal_id_e208d2" ON "letter" ("deal_id");
CREATE INDEX IF NOT EXISTS "idx_letter_mailbox_36ad2e" ON "letter" ("mailbox", "message_id");
CREATE INDEX IF NOT EXISTS "idx_letter_chat_me_387bba" ON "letter" ("chat_message_id");
"""

_POSTGRES = """
CREATE TABLE IF NOT EXISTS "contact_email" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "address" VARCHAR(254) NOT NULL UNIQUE,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_contact_ema_contact_cb71d8" ON "contact_email" ("contact_id");
CREATE TABLE IF NOT EXISTS "mailbox" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(255) NOT NULL UNIQUE,
    "uidvalidity" BIGINT NOT NULL DEFAULT 0,
    "last_uid" BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS "letter" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "mailbox" VARCHAR(255) NOT NULL,
    "uidvalidity" BIGINT NOT NULL DEFAULT 0,
    "uid" BIGINT,
    "message_id" VARCHAR(998) NOT NULL DEFAULT '',
    "references" TEXT NOT NULL DEFAULT '',
    "incoming" BOOL NOT NULL DEFAULT TRUE,
    "sender" VARCHAR(254) NOT NULL DEFAULT '',
    "subject" TEXT NOT NULL DEFAULT '',
    "text" TEXT NOT NULL DEFAULT '',
    "attachments" JSONB NOT NULL DEFAULT '[]',
    "replied_at" TIMESTAMPTZ,
    "moved_at" TIMESTAMPTZ,
    "at" TIMESTAMPTZ NOT NULL,
    "contact_id" INT REFERENCES "contact" ("id") ON DELETE SET NULL,
    "deal_id" INT REFERENCES "deal" ("id") ON DELETE SET NULL,
    "employee_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "chat_message_id" INT REFERENCES "chat_message" ("id") ON DELETE SET NULL,
    CONSTRAINT "uid_letter_mailbox_21f469" UNIQUE ("mailbox", "uidvalidity", "uid")
);
CREATE INDEX IF NOT EXISTS "idx_letter_deal_id_e208d2" ON "letter" ("deal_id");
CREATE INDEX IF NOT EXISTS "idx_letter_mailbox_36ad2e" ON "letter" ("mailbox", "message_id");
CREATE INDEX IF NOT EXISTS "idx_letter_chat_me_387bba" ON "letter" ("chat_message_id");
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return _POSTGRES if str(db.schema_generator.DIALECT) == "postgres" else _SQLITE


async def downgrade(db: BaseDBAsyncClient) -> str:
    return 'DROP TABLE IF EXISTS "letter"; DROP TABLE IF EXISTS "mailbox"; DROP TABLE IF EXISTS "contact_email";'
