"""Hashtags in a rep's note become the deal's tags: the parsing, then the store (SQLite and
PostgreSQL), /find and the VIP alert."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from crm.chat import ChatContent
from crm.context import Crm
from crm.deals import ContactDraft, quick_add
from crm.engine import Press, Status, apply_outcome
from crm.leads import AlertKind, intake
from crm.search import find_deals
from crm.staff import TelegramUser
from crm.tags import add_deal_tags, hashtags, set_deal_tags
from storage.models import Deal, DealTag, Employee, EventKind, Role, Task, TaskStatus, TimelineEvent


@given(st.text() | st.text(alphabet="#/_ .,!aBяЁ1٣\u0306"))
def test_hashtags_are_words_of_the_text(text: str) -> None:
    for tag in hashtags(text):
        assert tag and "#" not in tag and f"#{tag}" in text


@given(st.lists(st.sampled_from(["#vip", "#VIP", "#Опт", "#опт", " ", "x", "#", "/", "#1"])))
def test_hashtags_are_each_once_in_any_case(parts: list[str]) -> None:
    folded = [t.casefold() for t in hashtags("".join(parts))]
    assert len(folded) == len(set(folded))


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("#vip перезвонить после обеда", ["vip"]),
        ("перезвонить #ВИП, #опт_2024.", ["ВИП", "опт_2024"]),  # Cyrillic; punctuation ends one
        ("#vip #Hot и ещё #VIP", ["vip", "Hot"]),  # once, as first spelt
        ("#a#b", ["a"]),  # '#' inside a word is part of it
        ("# alone, #, #! #-x #.", []),
        ("счёт #125 оплачен", []),  # a number, not a tag
        ("#2024год", ["2024год"]),
        ("см. site.ru/#anchor и https://x.ru/p#frag", []),  # a link's fragment is not a tag
        ("(#скидка) «#срочно»", ["скидка", "срочно"]),
        ("", []),
    ],
)
def test_hashtags_examples(text: str, tags: list[str]) -> None:
    assert hashtags(text) == tags


async def _rep(tg_id: int = 901) -> Employee:
    return await Employee.create(name="Ivan", role=Role.REP, team="main", tg_id=tg_id)


async def _deal(crm: Crm, rep: Employee) -> Deal:
    added = await quick_add(
        crm, ContactDraft(name="Anna", phones=("+74951234567",)), owner_id=rep.id, team="main"
    )
    assert added.deal is not None
    return added.deal


async def _note(crm: Crm, deal_id: int, rep: Employee, text: str) -> tuple[Status, tuple[str, ...]]:
    task = await Task.get(deal_id=deal_id, status=TaskStatus.OPEN)
    out = await apply_outcome(crm, Press(task.id, "note", rep, note=text))
    return out.status, out.tags_added


async def _indexed(deal_id: int) -> list[str]:
    return sorted(
        str(t) for t in await DealTag.filter(deal_id=deal_id).values_list("tag", flat=True)
    )


async def test_a_notes_hashtags_join_the_deals_tags_once(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    await set_deal_tags(deal.id, ["Opt"])

    assert await _note(crm, deal.id, rep, "#vip перезвонить после обеда #opt") == (
        Status.NOTE_ADDED,
        ("vip",),
    )
    assert await _note(crm, deal.id, rep, "#VIP снова, #Скидка") == (Status.NOTE_ADDED, ("Скидка",))
    assert await _note(crm, deal.id, rep, "без тегов") == (Status.NOTE_ADDED, ())

    assert (await Deal.get(id=deal.id)).tags == ["Opt", "vip", "Скидка"]
    assert await _indexed(deal.id) == ["opt", "vip", "скидка"]
    notes = await TimelineEvent.filter(deal_id=deal.id, kind=EventKind.NOTE).order_by("id")
    assert [n.text for n in notes] == [
        "#vip перезвонить после обеда #opt",
        "#VIP снова, #Скидка",
        "без тегов",
    ]
    for query in ("#vip", "#скидка", "opt"):
        assert [d.id for d in await find_deals(query, rep)] == [deal.id], query


async def test_notes_at_once_keep_each_others_tags(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    tags = [f"t{i}" for i in range(6)]
    await asyncio.gather(*(_note(crm, deal.id, rep, f"#{t}") for t in tags))
    assert sorted((await Deal.get(id=deal.id)).tags) == tags
    assert await _indexed(deal.id) == tags


async def test_added_tags_roll_back_with_the_callers_transaction(crm: Crm) -> None:
    rep = await _rep()
    deal = await _deal(crm, rep)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            assert await add_deal_tags(deal.id, ["vip"]) == ["vip"]
            raise RuntimeError("the caller failed")
    assert (await Deal.get(id=deal.id)).tags == [] and await _indexed(deal.id) == []


async def test_a_vip_hashtag_in_a_note_raises_the_vip_alert(crm: Crm) -> None:
    rep = await _rep()
    anna = TelegramUser(id=5001, name="Anna", username="anna", lang="ru")
    first = await intake(crm, anna, _text("hello"))
    assert first.alerts == () and first.deal.owner_id == rep.id  # type: ignore[attr-defined]
    await _note(crm, first.deal.id, rep, "#VIP клиент")
    again = await intake(crm, anna, _text("hi again"))
    assert [(a.kind, a.word) for a in again.alerts] == [(AlertKind.VIP, "vip")]


def _text(text: str) -> ChatContent:
    return ChatContent(text=text)
