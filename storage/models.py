"""The shared store: Tortoise models of the pipeline.

Money is kept in integer minor units (kopecks): Tortoise stores Decimal as text on SQLite, so sums
would run in floating point there. Times are aware UTC.
"""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    REP = "rep"


class DealStatus(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    ARCHIVED = "archived"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class EventKind(enum.StrEnum):
    CREATED = "created"
    OUTCOME = "outcome"
    STAGE = "stage"
    CALL = "call"
    MSG_IN = "msg_in"
    MSG_OUT = "msg_out"
    NOTE = "note"
    ASSIGN = "assign"
    STOPPED = "stopped"  # the client said /stop
    RESUMED = "resumed"  # ...and wrote again, which lifts it


class Employee(Model):
    id = fields.IntField(primary_key=True)
    tg_id = fields.BigIntField(null=True, unique=True)
    name = fields.CharField(max_length=128, default="")
    username = fields.CharField(max_length=64, null=True)
    role = fields.CharEnumField(Role, max_length=16)
    team = fields.CharField(max_length=64, default="main", db_index=True)
    sip_ext = fields.CharField(max_length=32, null=True, unique=True)
    tz = fields.CharField(max_length=64, null=True)
    lang = fields.CharField(max_length=8, null=True)
    on_shift = fields.BooleanField(default=True)
    # Round robin of chat leads: the rep on shift with the lowest turn gets the next lead and
    # moves behind everybody. Kept in the store so the rotation survives restarts and processes.
    lead_turn = fields.BigIntField(default=0)
    # The department-zone day of the supervisor's last daily digest: claimed by a conditional
    # update, so a restart or a second process never sends the same day twice.
    digest_sent_on = fields.DateField(null=True)
    conveyor = fields.BooleanField(default=True)
    # The regions this rep picked for clients lately (REGION_ZONES keys, newest first): the
    # region list under a card puts them first.
    recent_regions: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    reachable = fields.BooleanField(default=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "employee"


class Invite(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    role = fields.CharEnumField(Role, max_length=16)
    team = fields.CharField(max_length=64, default="main")
    sip_ext = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    used_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    # Set for an employee made without Telegram: redeeming links his account to that employee.
    employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.CASCADE
    )

    class Meta:
        table = "invite"


class Contact(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, default="", db_index=True)
    company = fields.CharField(max_length=200, default="")
    email = fields.CharField(max_length=254, null=True, unique=True)
    tg_user_id = fields.BigIntField(null=True, unique=True)
    tg_username = fields.CharField(max_length=64, null=True)
    region = fields.CharField(max_length=8, null=True)
    tz = fields.CharField(max_length=64, null=True)
    source = fields.CharField(max_length=64, default="")
    tags: fields.JSONField[list[str]] = fields.JSONField(default=list)
    last_purchase_at = fields.DatetimeField(null=True)
    owner: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    # Nothing is sent to the client after his /stop (stopped) or a 403 (blocked: he blocked the
    # bot) until he writes again.
    stopped = fields.BooleanField(default=False)
    blocked = fields.BooleanField(default=False)
    # The bot (its Telegram id) the client last wrote to: only that bot may write to him.
    tg_bot_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "contact"


class ContactPhone(Model):
    """One E.164 number; unique, so one phone never makes a second contact."""

    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="phones", on_delete=fields.CASCADE, db_index=True
    )
    e164 = fields.CharField(max_length=20, unique=True)

    class Meta:
        table = "contact_phone"


class PhonePart(Model):
    """A suffix of a contact's number, 4 digits or more: searches find any part of a number here."""

    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, on_delete=fields.CASCADE
    )
    part = fields.CharField(max_length=20)

    class Meta:
        table = "phone_part"
        # contact_id alone: a contact's parts are read, deleted and moved (merges) by it.
        indexes = (("part", "contact_id"), ("contact_id",))


class Deal(Model):
    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="deals", on_delete=fields.CASCADE, db_index=True
    )
    title = fields.CharField(max_length=200, default="")
    amount = fields.BigIntField(default=0)
    stage = fields.CharField(max_length=32)
    status = fields.CharEnumField(DealStatus, max_length=16, default=DealStatus.OPEN)
    lost_reason = fields.CharField(max_length=32, null=True)
    lost_note = fields.TextField(null=True)
    source = fields.CharField(max_length=64, default="")
    tags: fields.JSONField[list[str]] = fields.JSONField(default=list)
    no_answer_count = fields.SmallIntField(default=0)
    owner: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    team = fields.CharField(max_length=64, default="main")
    version = fields.IntField(default=1)
    created_at = fields.DatetimeField()
    stage_changed_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "deal"
        indexes = (("owner_id", "status"), ("status", "created_at"))


class ContactTag(Model):
    """One of Contact.tags, case-folded: tag searches look here, by index, not in the lists."""

    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, on_delete=fields.CASCADE
    )
    tag = fields.TextField()

    class Meta:
        table = "contact_tag"
        unique_together = (("contact_id", "tag"),)
        indexes = (("tag", "contact_id"),)


class DealTag(Model):
    """One of Deal.tags, case-folded: tag searches look here, by index, not in the lists."""

    id = fields.IntField(primary_key=True)
    deal: fields.ForeignKeyRelation[Deal] = fields.ForeignKeyField(
        "models.Deal", related_name=False, on_delete=fields.CASCADE
    )
    tag = fields.TextField()

    class Meta:
        table = "deal_tag"
        unique_together = (("deal_id", "tag"),)
        indexes = (("tag", "deal_id"),)


class Task(Model):
    """A next step. At most one open task per deal: a partial unique index in the migration."""

    id = fields.IntField(primary_key=True)
    deal: fields.ForeignKeyRelation[Deal] = fields.ForeignKeyField(
        "models.Deal", related_name="tasks", on_delete=fields.CASCADE, db_index=True
    )
    kind = fields.CharField(max_length=32)
    status = fields.CharEnumField(TaskStatus, max_length=16, default=TaskStatus.OPEN)
    due_at = fields.DatetimeField()
    assignee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    team = fields.CharField(max_length=64, default="main")
    attempt = fields.SmallIntField(default=0)
    # The button that planned this task: the card shows that button's hint ("check payment").
    planned_by = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    outcome = fields.CharField(max_length=32, null=True)
    closed_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    pushed_at = fields.DatetimeField(null=True)
    # While a worker sends the due push (wall time): a claim its worker did not confirm by then
    # (killed while sending) goes back to the queue (partial index in migration 12).
    push_claim = fields.DatetimeField(null=True)
    reminded_at = fields.DatetimeField(null=True)
    # A lead nobody could take: when its team's supervisors are alerted again if it still waits.
    # Cleared by the clock's claim, so several workers alert once (partial index in migration 2).
    escalate_at = fields.DatetimeField(null=True)

    class Meta:
        table = "task"


class TimelineEvent(Model):
    id = fields.IntField(primary_key=True)
    deal: fields.ForeignKeyRelation[Deal] = fields.ForeignKeyField(
        "models.Deal", related_name="events", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(EventKind, max_length=16)
    text = fields.TextField(default="")
    data: fields.JSONField[dict[str, object]] = fields.JSONField(default=dict)
    actor: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    at = fields.DatetimeField()

    class Meta:
        table = "timeline_event"
        indexes = (("deal_id", "at"),)


class Call(Model):
    id = fields.IntField(primary_key=True)
    call_id = fields.CharField(max_length=255, unique=True)
    direction = fields.CharField(max_length=8)
    agent: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    agent_ext = fields.CharField(max_length=64, null=True)
    # The user parts of From and To as captured (also when no extension matched a side).
    caller = fields.CharField(max_length=64, default="")
    callee = fields.CharField(max_length=64, default="")
    remote = fields.CharField(max_length=64, default="")
    remote_e164 = fields.CharField(max_length=20, null=True)
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", null=True, related_name=False, on_delete=fields.SET_NULL, db_index=True
    )
    deal: fields.ForeignKeyNullableRelation[Deal] = fields.ForeignKeyField(
        "models.Deal", null=True, related_name=False, on_delete=fields.SET_NULL, db_index=True
    )
    disposition = fields.CharField(max_length=16)
    sip_code = fields.SmallIntField(null=True)
    started_at = fields.DatetimeField()
    answered_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField()
    talk_seconds = fields.IntField(default=0)

    class Meta:
        table = "call"


class ChatMessage(Model):
    """A message between a client and his rep, relayed through the bot."""

    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    deal: fields.ForeignKeyNullableRelation[Deal] = fields.ForeignKeyField(
        "models.Deal", null=True, related_name=False, on_delete=fields.SET_NULL, db_index=True
    )
    incoming = fields.BooleanField()
    employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    client_message_id = fields.BigIntField(null=True)
    staff_chat_id = fields.BigIntField(null=True)
    staff_message_id = fields.BigIntField(null=True)
    text = fields.TextField(default="")
    media_kind = fields.CharField(max_length=16, null=True)
    file_id = fields.CharField(max_length=255, null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "chat_message"
        indexes = (("staff_chat_id", "staff_message_id"),)


class Stage(Model):
    """The pipeline as the admin edited it; seeded from the playbook file on first start."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=32, unique=True)
    position = fields.SmallIntField()
    name_ru = fields.CharField(max_length=64)
    name_en = fields.CharField(max_length=64)
    color = fields.CharField(max_length=16)
    terminal = fields.CharField(max_length=16, null=True)
    buttons: fields.JSONField[list[str]] = fields.JSONField(default=list)

    class Meta:
        table = "stage"


class ButtonLabel(Model):
    """An admin's override of a button label from the playbook."""

    id = fields.IntField(primary_key=True)
    button = fields.CharField(max_length=32)
    lang = fields.CharField(max_length=8)
    text = fields.CharField(max_length=64)

    class Meta:
        table = "button_label"
        unique_together = (("button", "lang"),)


# -- custom fields (crm/fields.py): one row per value, indexed for /find and filters --


class ContactField(Model):
    """A custom field's value on a contact (a multi-choice field has a row per option)."""

    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    key = fields.CharField(max_length=32)
    value = fields.TextField()  # normalised: an option key, E.164, ISO date, a number as typed
    folded = fields.CharField(max_length=200)  # value case-folded and cut: what lookups match
    number = fields.FloatField(null=True)  # number, money (minor units): ranges and sums

    class Meta:
        table = "contact_field"
        indexes = (("key", "folded", "contact_id"),)


class DealField(Model):
    """A custom field's value on a deal (a multi-choice field has a row per option)."""

    id = fields.IntField(primary_key=True)
    deal: fields.ForeignKeyRelation[Deal] = fields.ForeignKeyField(
        "models.Deal", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    key = fields.CharField(max_length=32)
    value = fields.TextField()
    folded = fields.CharField(max_length=200)
    number = fields.FloatField(null=True)

    class Meta:
        table = "deal_field"
        indexes = (("key", "folded", "deal_id"),)


class FieldDef(Model):
    """A custom field as the admin edited it in /pipeline, seeded from the playbook file on first
    start. A removed field keeps its row (removed), so the file never seeds it back."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=32, unique=True)
    position = fields.SmallIntField()
    spec: fields.JSONField[dict[str, object]] = fields.JSONField()  # config.playbook.FieldSpec
    removed = fields.BooleanField(default=False)

    class Meta:
        table = "field_def"


# -- e-mail (issue 15) ---------------------------------------------------------------------------


class ContactEmail(Model):
    """Another address of a contact (Contact.email is his first): letters from any of them are
    his. Lower-cased; unique, so one address never belongs to two contacts."""

    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    address = fields.CharField(max_length=254, unique=True)

    class Meta:
        table = "contact_email"


class Mailbox(Model):
    """Where the watcher of one mailbox is: the folder's UIDVALIDITY and the last UID handled.
    Kept in the store so a restart, or another worker, catches up from there."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=255, unique=True)  # user@host:port/folder
    uidvalidity = fields.BigIntField(default=0)
    last_uid = fields.BigIntField(default=0)

    class Meta:
        table = "mailbox"


class Letter(Model):
    """One e-mail in or out. An incoming letter is claimed by inserting its row (the unique
    mailbox + UIDVALIDITY + UID) before it is handled, so two workers handle it once."""

    id = fields.IntField(primary_key=True)
    mailbox = fields.CharField(max_length=255)
    uidvalidity = fields.BigIntField(default=0)
    uid = fields.BigIntField(null=True)  # None for a reply sent
    message_id = fields.CharField(max_length=998, default="")
    references = fields.TextField(default="")
    incoming = fields.BooleanField(default=True)
    sender = fields.CharField(max_length=254, default="")
    subject = fields.TextField(default="")
    text = fields.TextField(default="")
    attachments: fields.JSONField[list[str]] = fields.JSONField(default=list)
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    deal: fields.ForeignKeyNullableRelation[Deal] = fields.ForeignKeyField(
        "models.Deal", null=True, related_name=False, on_delete=fields.SET_NULL, db_index=True
    )
    employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    # The letter in the conversation (crm.chat): its timeline line and relayed copies.
    chat_message: fields.ForeignKeyNullableRelation[ChatMessage] = fields.ForeignKeyField(
        "models.ChatMessage", null=True, related_name=False, on_delete=fields.SET_NULL,
        db_index=True,
    )
    replied_at = fields.DatetimeField(null=True)
    moved_at = fields.DatetimeField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "letter"
        unique_together = (("mailbox", "uidvalidity", "uid"),)
        indexes = (("mailbox", "message_id"),)


class Lease(Model):
    """A job held by one worker at a time (bot/leader.py): whoever holds an unexpired row runs
    it. A row, not a session advisory lock, because PgBouncer in transaction mode gives a
    session no connection of its own to hold one on."""

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()
    # What the holder last did that the next one must not repeat (the webhook's fingerprint).
    note = fields.CharField(max_length=128, default="")

    class Meta:
        table = "lease"
