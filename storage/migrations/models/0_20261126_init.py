# ruff: noqa: E501  (generated DDL keeps its own line lengths)
"""Initial schema, frozen per dialect, plus the indexes Tortoise cannot express.

The tables are the DDL Tortoise generated for storage/models.py on SQLite and on PostgreSQL when
this migration was written; later model changes come as new aerich migrations, never as edits
here. The partial unique index is the database's own guarantee of "one open task per open
deal"; Tortoise's PartialIndex renders `IS NULL` conditions wrongly, so these are raw DDL valid
on both dialects.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

TABLES = {
    "sqlite": r"""
CREATE TABLE "button_label" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "button" VARCHAR(32) NOT NULL,
    "lang" VARCHAR(8) NOT NULL,
    "text" VARCHAR(64) NOT NULL,
    CONSTRAINT "uid_button_labe_button_0c56db" UNIQUE ("button", "lang")
) /* An admin's override of a button label from the playbook. */;
CREATE TABLE "employee" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "tg_id" BIGINT UNIQUE,
    "name" VARCHAR(128) NOT NULL,
    "username" VARCHAR(64),
    "role" VARCHAR(16) NOT NULL /* ADMIN: admin\nSUPERVISOR: supervisor\nREP: rep */,
    "team" VARCHAR(64) NOT NULL,
    "sip_ext" VARCHAR(32) UNIQUE,
    "tz" VARCHAR(64),
    "lang" VARCHAR(8),
    "on_shift" INT NOT NULL,
    "lead_turn" BIGINT NOT NULL,
    "digest_sent_on" DATE,
    "conveyor" INT NOT NULL,
    "reachable" INT NOT NULL,
    "active" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL
);
CREATE INDEX "idx_employee_team_10fa81" ON "employee" ("team");
CREATE TABLE "contact" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "company" VARCHAR(200) NOT NULL,
    "email" VARCHAR(254) UNIQUE,
    "tg_user_id" BIGINT UNIQUE,
    "tg_username" VARCHAR(64),
    "region" VARCHAR(8),
    "tz" VARCHAR(64),
    "source" VARCHAR(64) NOT NULL,
    "tags" JSON NOT NULL,
    "custom" JSON NOT NULL,
    "last_purchase_at" TIMESTAMP,
    "stopped" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "owner_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_contact_name_bbcf0f" ON "contact" ("name");
CREATE TABLE "contact_phone" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "e164" VARCHAR(20) NOT NULL UNIQUE,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE
) /* One E.164 number; unique, so one phone never makes a second contact. */;
CREATE INDEX "idx_contact_pho_contact_76f1fe" ON "contact_phone" ("contact_id");
CREATE TABLE "deal" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "amount" BIGINT NOT NULL,
    "stage" VARCHAR(32) NOT NULL,
    "status" VARCHAR(16) NOT NULL /* OPEN: open\nWON: won\nLOST: lost\nARCHIVED: archived */,
    "lost_reason" VARCHAR(32),
    "lost_note" TEXT,
    "source" VARCHAR(64) NOT NULL,
    "tags" JSON NOT NULL,
    "custom" JSON NOT NULL,
    "no_answer_count" SMALLINT NOT NULL,
    "team" VARCHAR(64) NOT NULL,
    "version" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "stage_changed_at" TIMESTAMP NOT NULL,
    "closed_at" TIMESTAMP,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE,
    "owner_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_deal_contact_750cb0" ON "deal" ("contact_id");
CREATE INDEX "idx_deal_owner_i_0d916e" ON "deal" ("owner_id", "status");
CREATE INDEX "idx_deal_status_3be41f" ON "deal" ("status", "created_at");
CREATE TABLE "call" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "call_id" VARCHAR(255) NOT NULL UNIQUE,
    "direction" VARCHAR(8) NOT NULL,
    "agent_ext" VARCHAR(64),
    "remote" VARCHAR(64) NOT NULL,
    "remote_e164" VARCHAR(20),
    "disposition" VARCHAR(16) NOT NULL,
    "sip_code" SMALLINT,
    "started_at" TIMESTAMP NOT NULL,
    "answered_at" TIMESTAMP,
    "ended_at" TIMESTAMP NOT NULL,
    "talk_seconds" INT NOT NULL,
    "agent_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "contact_id" INT REFERENCES "contact" ("id") ON DELETE SET NULL,
    "deal_id" INT REFERENCES "deal" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_call_contact_0acd24" ON "call" ("contact_id");
CREATE INDEX "idx_call_deal_id_2681c7" ON "call" ("deal_id");
CREATE TABLE "chat_message" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "incoming" INT NOT NULL,
    "client_message_id" BIGINT,
    "staff_chat_id" BIGINT,
    "staff_message_id" BIGINT,
    "text" TEXT NOT NULL,
    "media_kind" VARCHAR(16),
    "file_id" VARCHAR(255),
    "at" TIMESTAMP NOT NULL,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE,
    "deal_id" INT REFERENCES "deal" ("id") ON DELETE SET NULL,
    "employee_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL
) /* A message between a client and his rep, relayed through the bot. */;
CREATE INDEX "idx_chat_messag_contact_1c029f" ON "chat_message" ("contact_id");
CREATE INDEX "idx_chat_messag_deal_id_98b2c1" ON "chat_message" ("deal_id");
CREATE INDEX "idx_chat_messag_staff_c_6967a4" ON "chat_message" ("staff_chat_id", "staff_message_id");
CREATE TABLE "invite" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "role" VARCHAR(16) NOT NULL /* ADMIN: admin\nSUPERVISOR: supervisor\nREP: rep */,
    "team" VARCHAR(64) NOT NULL,
    "sip_ext" VARCHAR(32),
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "used_by_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL
);
CREATE TABLE "stage" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(32) NOT NULL UNIQUE,
    "position" SMALLINT NOT NULL,
    "name_ru" VARCHAR(64) NOT NULL,
    "name_en" VARCHAR(64) NOT NULL,
    "color" VARCHAR(16) NOT NULL,
    "terminal" VARCHAR(16),
    "buttons" JSON NOT NULL
) /* The pipeline as the admin edited it; seeded from the playbook file on first start. */;
CREATE TABLE "task" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(32) NOT NULL,
    "status" VARCHAR(16) NOT NULL /* OPEN: open\nDONE: done\nCANCELLED: cancelled */,
    "due_at" TIMESTAMP NOT NULL,
    "team" VARCHAR(64) NOT NULL,
    "attempt" SMALLINT NOT NULL,
    "planned_by" VARCHAR(32),
    "created_at" TIMESTAMP NOT NULL,
    "closed_at" TIMESTAMP,
    "outcome" VARCHAR(32),
    "pushed_at" TIMESTAMP,
    "reminded_at" TIMESTAMP,
    "assignee_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "closed_by_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "deal_id" INT NOT NULL REFERENCES "deal" ("id") ON DELETE CASCADE
) /* A next step. At most one open task per deal: a partial unique index in the migration. */;
CREATE INDEX "idx_task_deal_id_33c2a4" ON "task" ("deal_id");
CREATE TABLE "timeline_event" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(16) NOT NULL /* CREATED: created\nOUTCOME: outcome\nSTAGE: stage\nCALL: call\nMSG_IN: msg_in\nMSG_OUT: msg_out\nNOTE: note\nASSIGN: assign */,
    "text" TEXT NOT NULL,
    "data" JSON NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "actor_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "deal_id" INT NOT NULL REFERENCES "deal" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_timeline_ev_deal_id_c7aa7a" ON "timeline_event" ("deal_id", "at");
CREATE TABLE "aerich" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSON NOT NULL
);
""",
    "postgres": r"""
CREATE TABLE "button_label" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "button" VARCHAR(32) NOT NULL,
    "lang" VARCHAR(8) NOT NULL,
    "text" VARCHAR(64) NOT NULL,
    CONSTRAINT "uid_button_labe_button_0c56db" UNIQUE ("button", "lang")
);
COMMENT ON TABLE "button_label" IS 'An admin''s override of a button label from the playbook.';
CREATE TABLE "employee" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "tg_id" BIGINT UNIQUE,
    "name" VARCHAR(128) NOT NULL,
    "username" VARCHAR(64),
    "role" VARCHAR(16) NOT NULL,
    "team" VARCHAR(64) NOT NULL,
    "sip_ext" VARCHAR(32) UNIQUE,
    "tz" VARCHAR(64),
    "lang" VARCHAR(8),
    "on_shift" BOOL NOT NULL,
    "lead_turn" BIGINT NOT NULL,
    "digest_sent_on" DATE,
    "conveyor" BOOL NOT NULL,
    "reachable" BOOL NOT NULL,
    "active" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX "idx_employee_team_10fa81" ON "employee" ("team");
COMMENT ON COLUMN "employee"."role" IS 'ADMIN: admin\nSUPERVISOR: supervisor\nREP: rep';
CREATE TABLE "contact" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(200) NOT NULL,
    "company" VARCHAR(200) NOT NULL,
    "email" VARCHAR(254) UNIQUE,
    "tg_user_id" BIGINT UNIQUE,
    "tg_username" VARCHAR(64),
    "region" VARCHAR(8),
    "tz" VARCHAR(64),
    "source" VARCHAR(64) NOT NULL,
    "tags" JSONB NOT NULL,
    "custom" JSONB NOT NULL,
    "last_purchase_at" TIMESTAMPTZ,
    "stopped" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "owner_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_contact_name_bbcf0f" ON "contact" ("name");
CREATE TABLE "contact_phone" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "e164" VARCHAR(20) NOT NULL UNIQUE,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_contact_pho_contact_76f1fe" ON "contact_phone" ("contact_id");
COMMENT ON TABLE "contact_phone" IS 'One E.164 number; unique, so one phone never makes a second contact.';
CREATE TABLE "deal" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "title" VARCHAR(200) NOT NULL,
    "amount" BIGINT NOT NULL,
    "stage" VARCHAR(32) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "lost_reason" VARCHAR(32),
    "lost_note" TEXT,
    "source" VARCHAR(64) NOT NULL,
    "tags" JSONB NOT NULL,
    "custom" JSONB NOT NULL,
    "no_answer_count" SMALLINT NOT NULL,
    "team" VARCHAR(64) NOT NULL,
    "version" INT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "stage_changed_at" TIMESTAMPTZ NOT NULL,
    "closed_at" TIMESTAMPTZ,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE,
    "owner_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_deal_contact_750cb0" ON "deal" ("contact_id");
CREATE INDEX "idx_deal_owner_i_0d916e" ON "deal" ("owner_id", "status");
CREATE INDEX "idx_deal_status_3be41f" ON "deal" ("status", "created_at");
COMMENT ON COLUMN "deal"."status" IS 'OPEN: open\nWON: won\nLOST: lost\nARCHIVED: archived';
CREATE TABLE "call" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "call_id" VARCHAR(255) NOT NULL UNIQUE,
    "direction" VARCHAR(8) NOT NULL,
    "agent_ext" VARCHAR(64),
    "remote" VARCHAR(64) NOT NULL,
    "remote_e164" VARCHAR(20),
    "disposition" VARCHAR(16) NOT NULL,
    "sip_code" SMALLINT,
    "started_at" TIMESTAMPTZ NOT NULL,
    "answered_at" TIMESTAMPTZ,
    "ended_at" TIMESTAMPTZ NOT NULL,
    "talk_seconds" INT NOT NULL,
    "agent_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "contact_id" INT REFERENCES "contact" ("id") ON DELETE SET NULL,
    "deal_id" INT REFERENCES "deal" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_call_contact_0acd24" ON "call" ("contact_id");
CREATE INDEX "idx_call_deal_id_2681c7" ON "call" ("deal_id");
CREATE TABLE "chat_message" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "incoming" BOOL NOT NULL,
    "client_message_id" BIGINT,
    "staff_chat_id" BIGINT,
    "staff_message_id" BIGINT,
    "text" TEXT NOT NULL,
    "media_kind" VARCHAR(16),
    "file_id" VARCHAR(255),
    "at" TIMESTAMPTZ NOT NULL,
    "contact_id" INT NOT NULL REFERENCES "contact" ("id") ON DELETE CASCADE,
    "deal_id" INT REFERENCES "deal" ("id") ON DELETE SET NULL,
    "employee_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL
);
CREATE INDEX "idx_chat_messag_contact_1c029f" ON "chat_message" ("contact_id");
CREATE INDEX "idx_chat_messag_deal_id_98b2c1" ON "chat_message" ("deal_id");
CREATE INDEX "idx_chat_messag_staff_c_6967a4" ON "chat_message" ("staff_chat_id", "staff_message_id");
COMMENT ON TABLE "chat_message" IS 'A message between a client and his rep, relayed through the bot.';
CREATE TABLE "invite" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "role" VARCHAR(16) NOT NULL,
    "team" VARCHAR(64) NOT NULL,
    "sip_ext" VARCHAR(32),
    "created_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "used_at" TIMESTAMPTZ,
    "used_by_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL
);
COMMENT ON COLUMN "invite"."role" IS 'ADMIN: admin\nSUPERVISOR: supervisor\nREP: rep';
CREATE TABLE "stage" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(32) NOT NULL UNIQUE,
    "position" SMALLINT NOT NULL,
    "name_ru" VARCHAR(64) NOT NULL,
    "name_en" VARCHAR(64) NOT NULL,
    "color" VARCHAR(16) NOT NULL,
    "terminal" VARCHAR(16),
    "buttons" JSONB NOT NULL
);
COMMENT ON TABLE "stage" IS 'The pipeline as the admin edited it; seeded from the playbook file on first start.';
CREATE TABLE "task" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(32) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "due_at" TIMESTAMPTZ NOT NULL,
    "team" VARCHAR(64) NOT NULL,
    "attempt" SMALLINT NOT NULL,
    "planned_by" VARCHAR(32),
    "created_at" TIMESTAMPTZ NOT NULL,
    "closed_at" TIMESTAMPTZ,
    "outcome" VARCHAR(32),
    "pushed_at" TIMESTAMPTZ,
    "reminded_at" TIMESTAMPTZ,
    "assignee_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "closed_by_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "deal_id" INT NOT NULL REFERENCES "deal" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_task_deal_id_33c2a4" ON "task" ("deal_id");
COMMENT ON COLUMN "task"."status" IS 'OPEN: open\nDONE: done\nCANCELLED: cancelled';
COMMENT ON TABLE "task" IS 'A next step. At most one open task per deal: a partial unique index in the migration.';
CREATE TABLE "timeline_event" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(16) NOT NULL,
    "text" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    "actor_id" INT REFERENCES "employee" ("id") ON DELETE SET NULL,
    "deal_id" INT NOT NULL REFERENCES "deal" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_timeline_ev_deal_id_c7aa7a" ON "timeline_event" ("deal_id", "at");
COMMENT ON COLUMN "timeline_event"."kind" IS 'CREATED: created\nOUTCOME: outcome\nSTAGE: stage\nCALL: call\nMSG_IN: msg_in\nMSG_OUT: msg_out\nNOTE: note\nASSIGN: assign';
CREATE TABLE "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
""",
}

PARTIAL_INDEXES = """
CREATE UNIQUE INDEX task_one_open_per_deal ON task (deal_id) WHERE status = 'open';
CREATE INDEX task_open_by_assignee ON task (assignee_id, due_at) WHERE status = 'open';
CREATE INDEX task_open_unassigned ON task (team, created_at)
    WHERE status = 'open' AND assignee_id IS NULL;
CREATE INDEX task_due_unpushed ON task (due_at) WHERE status = 'open' AND pushed_at IS NULL;
"""

DROP = "\n".join(
    f'DROP TABLE IF EXISTS "{name}";'
    for name in (
        "timeline_event",
        "task",
        "chat_message",
        "call",
        "contact_phone",
        "deal",
        "contact",
        "invite",
        "button_label",
        "stage",
        "employee",
    )
)


async def upgrade(db: BaseDBAsyncClient) -> str:
    return TABLES[db.schema_generator.DIALECT] + PARTIAL_INDEXES


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DROP
