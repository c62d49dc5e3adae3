"""Custom fields (crm/fields.py): their definitions, and their values one row per value,
indexed for /find and filters."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from storage.models.contacts import Contact
from storage.models.deals import Deal


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
    spec: fields.JSONField[dict[str, object]] = fields.JSONField()  # config.field_spec.FieldSpec
    removed = fields.BooleanField(default=False)

    class Meta:
        table = "field_def"
