"""What passed between a client and the team by phone and through the bot: calls and chat
messages."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from storage.models.contacts import Contact
from storage.models.deals import Deal
from storage.models.staff import Employee


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
