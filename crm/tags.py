"""Tags of contacts and deals: the lists as written (cards, alerts, export) and their index.

Every write of Contact.tags or Deal.tags goes through here, so that contact_tag and deal_tag
always hold the case-folded tags of those lists: /find looks a tag up there by index instead of
reading every deal's JSON. Folding is done here, in Python, because SQLite's lower() folds ASCII
letters only (a "ВИП" tag would never match "вип").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from tortoise.transactions import in_transaction

from storage.models import Contact, ContactTag, Deal, DealTag


def fold(tag: str) -> str:
    """The form a tag is indexed and looked up by: the same tag in any case folds the same."""
    return tag.casefold()


# A hashtag as Telegram marks one: '#' and a run of letters, digits and '_' in any script, not
# glued to what precedes it. After a word character it is part of the word ("a#b"), and after '/'
# it is a link's fragment ("site.ru/#anchor": Telegram marks the whole link, not a hashtag), so
# neither counts; nor does a number alone ("счёт #125" is an invoice, not a tag).
_HASHTAG = re.compile(r"(?<![\w/])#(\w+)")


def hashtags(text: str) -> list[str]:
    """The hashtags of a text, without '#', each once in any case (as first spelt)."""
    found: dict[str, str] = {}
    for tag in _HASHTAG.findall(text):
        if not tag.isdecimal():
            found.setdefault(fold(tag), tag)
    return list(found.values())


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


async def add_deal_tags(deal_id: int, tags: Sequence[str]) -> list[str]:
    """Add to the deal's tags those it lacks in any case; returns the ones added.

    Inside the caller's transaction, if any, it is a savepoint of it (Tortoise nests so). The
    deal's row is locked from the read to the commit, so notes at once keep each other's tags
    (on SQLite, which has no FOR UPDATE, call it after the transaction's first write). NO KEY:
    a caller that has inserted a row referencing the deal holds a KEY SHARE lock on it, which
    FOR UPDATE would wait for, and two such callers would deadlock.
    """
    if not tags:
        return []
    async with in_transaction():
        deal = await (
            Deal.filter(id=deal_id).select_for_update(no_key=True).only("id", "tags").first()
        )
        if deal is None:
            return []
        known = {fold(t) for t in deal.tags}
        added = []
        for tag in tags:
            if fold(tag) not in known:
                known.add(fold(tag))
                added.append(tag)
        if added:
            await set_deal_tags(deal_id, [*deal.tags, *added])
    return added


async def index_contact_tags(tags: Mapping[int, Sequence[str]]) -> None:
    """Index the tags of contacts just inserted with them (bulk inserts, in their transaction)."""
    await ContactTag.bulk_create(
        [ContactTag(contact_id=c, tag=t) for c, listed in tags.items() for t in _folded(listed)]
    )
