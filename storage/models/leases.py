"""The jobs one worker at a time runs, and who holds each."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


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
