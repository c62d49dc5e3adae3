"""Through which bot a reply goes, and whether it may go at all: the bot a client last wrote to,
/stop and a block lifted by his next message (SQLite and PostgreSQL)."""

from __future__ import annotations

from crm.chat import (
    ClientBots,
    ReplyRefusal,
    ReplyTarget,
    blocked,
    may_message,
    reply_target,
    stop,
)
from crm.context import Crm
from crm.leads import intake
from crm.staff import TelegramUser
from storage.models import Contact, Employee, EventKind, Role, TimelineEvent
from tests.test_leads import _text

STAFF, CLIENT = 111, 222
BOTH = ClientBots(staff=STAFF, client=CLIENT)
ANNA = TelegramUser(id=6001, name="Anna", username="anna", lang="ru")


async def _rep(name: str = "Ivan") -> Employee:
    return await Employee.create(name=name, role=Role.REP, team="main", tg_id=8000 + len(name))


async def _kinds(deal_id: int) -> list[object]:
    return list(
        await TimelineEvent.filter(deal_id=deal_id).order_by("id").values_list("kind", flat=True)
    )


async def test_a_reply_goes_through_the_bot_the_client_last_wrote_to(crm: Crm) -> None:
    rep = await _rep()
    found = await intake(crm, ANNA, _text("hi"), bot_id=STAFF)
    deal = found.deal.id
    assert (await Contact.get(id=found.contact.id)).tg_bot_id == STAFF
    # The client bot came later: he is still answered through the staff bot he wrote to.
    target = await reply_target(rep, deal, BOTH)
    assert target == ReplyTarget(found.contact.id, deal, ANNA.id, STAFF)
    await intake(crm, ANNA, _text("found your other bot"), bot_id=CLIENT)
    target = await reply_target(rep, deal, BOTH)
    assert isinstance(target, ReplyTarget) and target.bot_id == CLIENT
    # That bot does not run any more: nothing may reach him until he writes again.
    assert await reply_target(rep, deal, ClientBots(staff=STAFF)) == ReplyRefusal.OTHER_BOT


async def test_a_contact_from_before_bots_were_remembered_goes_through_the_advertised_bot(
    crm: Crm,
) -> None:
    rep = await _rep()
    found = await intake(crm, ANNA, _text("hi"))
    await Contact.filter(id=found.contact.id).update(tg_bot_id=None)
    for bots, through in ((BOTH, CLIENT), (ClientBots(staff=STAFF), STAFF)):
        target = await reply_target(rep, found.deal.id, bots)
        assert isinstance(target, ReplyTarget) and target.bot_id == through


async def test_stop_holds_until_the_client_writes_again_on_the_same_deal(crm: Crm) -> None:
    rep = await _rep()
    await _rep("Another rep")
    found = await intake(crm, ANNA, _text("hi"), bot_id=CLIENT)
    assert await stop(crm, ANNA.id) is True
    assert await stop(crm, ANNA.id) is False  # the confirmation goes out once
    assert await reply_target(rep, found.deal.id, BOTH) == ReplyRefusal.STOPPED
    assert not await may_message(ANNA.id)

    again = await intake(crm, ANNA, _text("actually, one more question"), bot_id=CLIENT)
    assert again.resumed and not again.new_deal
    assert again.deal.id == found.deal.id
    assert again.deal.owner_id == rep.id  # type: ignore[attr-defined]
    assert not again.contact.stopped and await may_message(ANNA.id)
    assert isinstance(await reply_target(rep, found.deal.id, BOTH), ReplyTarget)
    assert await _kinds(found.deal.id) == [
        EventKind.CREATED, EventKind.MSG_IN, EventKind.STOPPED, EventKind.RESUMED,
        EventKind.MSG_IN,
    ]
    # Only the message that lifted it says so.
    assert not (await intake(crm, ANNA, _text("and another"), bot_id=CLIENT)).resumed


async def test_a_block_is_told_apart_from_stop_and_lifted_by_writing_again(crm: Crm) -> None:
    rep = await _rep()
    found = await intake(crm, ANNA, _text("hi"), bot_id=CLIENT)
    await blocked(ANNA.id)
    assert await reply_target(rep, found.deal.id, BOTH) == ReplyRefusal.BLOCKED
    assert not await may_message(ANNA.id)
    again = await intake(crm, ANNA, _text("unblocked you"), bot_id=CLIENT)
    assert not again.resumed  # he never said /stop: nothing to tell him
    assert isinstance(await reply_target(rep, found.deal.id, BOTH), ReplyTarget)
    assert EventKind.RESUMED not in await _kinds(found.deal.id)


async def test_a_contact_without_telegram_cannot_be_written_to(crm: Crm) -> None:
    rep = await _rep()
    found = await intake(crm, ANNA, _text("hi"), bot_id=STAFF)
    await Contact.filter(id=found.contact.id).update(tg_user_id=None)
    assert await reply_target(rep, found.deal.id, BOTH) == ReplyRefusal.NOT_IN_TELEGRAM
