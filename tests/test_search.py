"""/find by tag: the tags' index answers, case-insensitively, in the viewer's scope (SQLite and
PostgreSQL)."""

from __future__ import annotations

from crm.context import Crm
from crm.deals import ContactDraft, find_or_create_contact, open_deal
from crm.search import find_deals
from crm.tags import set_contact_tags, set_deal_tags
from storage.models import Contact, ContactTag, Deal, DealTag, Employee, Role


async def _rep(name: str, tg_id: int) -> Employee:
    return await Employee.create(name=name, role=Role.REP, team="main", tg_id=tg_id)


async def _deal(crm: Crm, name: str, phone: str, owner: Employee) -> Deal:
    contact, _ = await find_or_create_contact(crm, ContactDraft(name=name, phones=(phone,)))
    return await open_deal(crm, contact, owner_id=owner.id, team=owner.team)


async def _found(query: str, viewer: Employee) -> list[int]:
    return [d.id for d in await find_deals(query, viewer)]


async def test_a_deal_tag_and_a_contact_tag_in_any_case_with_or_without_hash(crm: Crm) -> None:
    ivan = await _rep("Ivan", 901)
    by_deal = await _deal(crm, "Anna", "+79990000001", ivan)
    by_contact = await _deal(crm, "Boris", "+79990000002", ivan)
    untagged = await _deal(crm, "Vera", "+79990000003", ivan)
    await set_deal_tags(by_deal.id, ["Opt", "VIP"])
    await set_contact_tags(by_contact.contact_id, ["vip", "ВИП"])  # type: ignore[attr-defined]

    for query in ("vip", "VIP", "#vip", "#Vip"):
        assert sorted(await _found(query, ivan)) == [by_deal.id, by_contact.id], query
    assert await _found("opt", ivan) == [by_deal.id]
    # Cyrillic folds too (SQLite's lower() would not).
    assert await _found("вип", ivan) == [by_contact.id]
    assert await _found("#Вип", ivan) == [by_contact.id]
    assert untagged.id not in await _found("vip", ivan)
    # The lists keep the tags as written; cards and alerts read them.
    assert (await Deal.get(id=by_deal.id)).tags == ["Opt", "VIP"]
    assert (await Contact.get(id=by_contact.contact_id)).tags == ["vip", "ВИП"]  # type: ignore[attr-defined]


async def test_a_tag_nobody_has_finds_nothing(crm: Crm) -> None:
    ivan = await _rep("Ivan", 901)
    deal = await _deal(crm, "Anna", "+79990000001", ivan)
    await set_deal_tags(deal.id, ["vip"])
    assert await _found("#wholesale", ivan) == []
    assert await _found("vi", ivan) == []  # a tag is matched whole


async def test_a_rep_finds_only_his_own_tagged_deals(crm: Crm) -> None:
    ivan, petr = await _rep("Ivan", 901), await _rep("Petr", 902)
    admin = await Employee.create(name="Admin", role=Role.ADMIN, team="main", tg_id=903)
    his = await _deal(crm, "Anna", "+79990000001", ivan)
    theirs = await _deal(crm, "Boris", "+79990000002", petr)
    for deal in (his, theirs):
        await set_deal_tags(deal.id, ["vip"])
    assert await _found("#vip", ivan) == [his.id]
    assert await _found("#vip", petr) == [theirs.id]
    assert sorted(await _found("#vip", admin)) == [his.id, theirs.id]


async def test_changed_tags_are_found_by_their_new_value_only(crm: Crm) -> None:
    ivan = await _rep("Ivan", 901)
    deal = await _deal(crm, "Anna", "+79990000001", ivan)
    contact_id = deal.contact_id  # type: ignore[attr-defined]
    await set_deal_tags(deal.id, ["old", "kept"])
    await set_contact_tags(contact_id, ["stale"])

    await set_deal_tags(deal.id, ["Kept", "new", "NEW"])
    await set_contact_tags(contact_id, ["Fresh"])

    for gone in ("old", "stale"):
        assert await _found(gone, ivan) == [], gone
    for present in ("kept", "new", "fresh"):
        assert await _found(present, ivan) == [deal.id], present
    assert sorted(await DealTag.filter(deal_id=deal.id).values_list("tag", flat=True)) == [
        "kept",
        "new",
    ]
    await set_contact_tags(contact_id, [])
    assert await ContactTag.filter(contact_id=contact_id).count() == 0
    assert await _found("fresh", ivan) == []
