"""A deal, its next steps (tasks) and its timeline, with the statuses and kinds they take."""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model

from storage.models.contacts import Contact
from storage.models.staff import Employee


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
