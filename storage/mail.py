"""Where each watched mailbox is: its folder's UIDVALIDITY and the last UID handled.

Workers share the row: a position only moves forward (a conditional update), and a changed
UIDVALIDITY (the folder was recreated: its UIDs mean other letters now) starts it from 0, the
letters seen before being known by their Message-ID (crm.mail).
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from storage.models import Mailbox


async def start_position(key: str, uidvalidity: int, uidnext: int) -> int:
    """The last UID handled in this folder. A mailbox watched for the first time starts at
    its newest letter: what was there before is not news."""
    box = await Mailbox.get_or_none(key=key)
    if box is None:
        try:
            box = await Mailbox.create(key=key, uidvalidity=uidvalidity,
                                       last_uid=max(uidnext - 1, 0))
        except IntegrityError:  # another worker started it first
            box = await Mailbox.get(key=key)
    if box.uidvalidity != uidvalidity:
        await Mailbox.filter(key=key, uidvalidity=box.uidvalidity).update(
            uidvalidity=uidvalidity, last_uid=0
        )
        box = await Mailbox.get(key=key)
    return int(box.last_uid) if box.uidvalidity == uidvalidity else 0


async def advance(key: str, uidvalidity: int, uid: int) -> None:
    await Mailbox.filter(key=key, uidvalidity=uidvalidity, last_uid__lt=uid).update(last_uid=uid)

