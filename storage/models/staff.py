"""Who works in the store: employees, their roles, and the invites that make them."""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    REP = "rep"



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
