"""Clients: a contact, his phone numbers (and their parts /find searches) and his other
e-mail addresses."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from storage.models.staff import Employee


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
