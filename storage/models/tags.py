"""The tags of contacts and deals, one row per tag, so tag searches use an index."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from storage.models.contacts import Contact
from storage.models.deals import Deal


class _Tag(Model):
    """What a contact's and a deal's tag rows share; each names its owner and its table."""

    id = fields.IntField(primary_key=True)
    tag = fields.TextField()

    class Meta:
        abstract = True


# Any: mypy takes an assigned Meta for a clash with the base's nested class.
def _tag_meta(owner: str) -> Any:
    """The Meta of the tags of an owner: one row per tag of each owner, found by tag."""
    return type(
        "Meta",
        (),
        {
            "table": f"{owner}_tag",
            "unique_together": ((f"{owner}_id", "tag"),),
            "indexes": (("tag", f"{owner}_id"),),
        },
    )


# The docstrings are the tables' comments in the schema: they stay as migrated.
class ContactTag(_Tag):
    """One of Contact.tags, case-folded: tag searches look here, by index, not in the lists."""

    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name=False, on_delete=fields.CASCADE
    )
    Meta = _tag_meta("contact")


class DealTag(_Tag):
    """One of Deal.tags, case-folded: tag searches look here, by index, not in the lists."""

    deal: fields.ForeignKeyRelation[Deal] = fields.ForeignKeyField(
        "models.Deal", related_name=False, on_delete=fields.CASCADE
    )
    Meta = _tag_meta("deal")
