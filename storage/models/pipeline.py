"""The pipeline as the admin edited it: its stages and his labels of the buttons."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


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
