"""E-mail (issue 15): where each mailbox's watcher is, and the letters in and out."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from storage.models.contacts import Contact
from storage.models.conversations import ChatMessage
from storage.models.deals import Deal
from storage.models.staff import Employee


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
