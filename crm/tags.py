"""Tags of contacts and deals: the lists as written (cards, alerts, export) and their index.

Every write of Contact.tags or Deal.tags goes through here, so that contact_tag and deal_tag
always hold the case-folded tags of those lists: /find looks a tag up there by index instead of
reading every deal's JSON. Folding is done here, in Python, because SQLite's lower() folds ASCII
letters only (a "ВИП" tag would never match "вип").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tortoise.transactions import in_transaction

from storage.models import Contact, ContactTag, Deal, DealTag


def fold(tag: str) -> str:
    """The form a tag is indexed and looked up by: the same tag in any case folds the same."""
    return tag.casefold()


def _folded(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(f for f in map(fold, tags) if f))


async def set_contact_tags(contact_id: int, tags: Sequence[str]) -> None:
    """The contact's tags become `tags`, in the list and in the index, or neither."""
    async with in_transaction():
        await Contact.filter(id=contact_id).update(tags=list(tags))
        await ContactTag.filter(contact_id=contact_id).delete()
        await index_contact_tags({contact_id: tags})


async def set_deal_tags(deal_id: int, tags: Sequence[str]) -> None:
    """The deal's tags become `tags`, in the list and in the index, or neither."""
    async with in_transaction():
        await Deal.filter(id=deal_id).update(tags=list(tags))
        await DealTag.filter(deal_id=deal_id).delete()
        await DealTag.bulk_create([DealTag(deal_id=deal_id, tag=t) for t in _folded(tags)])


async def index_contact_tags(tags: Mapping[int, Sequence[str]]) -> None:
    """Index the tags of contacts just inserted with them (bulk inserts, in their transaction)."""
    await ContactTag.bulk_create(
        [ContactTag(contact_id=c, tag=t) for c, listed in tags.items() for t in _folded(listed)]
    )
