"""crm.mail's rules on the store (SQLite and PostgreSQL): where a letter goes, who is told,
alerts, claims, and the reply through a MailPort."""

from __future__ import annotations

from itertools import count
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from config.playbook import Mail
from crm.chat import ChatContent, ReplyRefusal, record_incoming
from crm.context import Crm
from crm.deals import (
    ContactDraft,
    add_address,
    contact_by_email,
    find_contact,
    find_or_create_contact,
    open_deal,
)
from crm.importer import import_csv
from crm.mail import (
    Fate,
    IncomingLetter,
    MailDeliveryError,
    letter_to_answer,
    receive,
    reply,
)
from crm.notices import NoticeKind
from storage.models import Contact, Deal, Employee, Letter, Role, TimelineEvent

_uids = count(1)
_tg = count(500_001)


def incoming(
    sender: str, subject: str = "Hello", text: str = "Body", **kw: object
) -> IncomingLetter:
    uid = next(_uids)
    values: dict[str, object] = {
        "mailbox": "box", "uidvalidity": 1, "uid": uid, "message_id": f"<{uid}@c>",
        "sender": sender, "sender_name": "Anna", "subject": subject, "text": text,
    }
    values.update(kw)
    return IncomingLetter(**values)  # type: ignore[arg-type]


async def employee(role: Role = Role.REP, team: str = "main") -> Employee:
    return await Employee.create(tg_id=next(_tg), name=role.value, role=role, team=team)


async def client(
    crm: Crm, address: str, owner: Employee | None, tags: list[str] | None = None
) -> tuple[Contact, Deal]:
    contact, _ = await find_or_create_contact(crm, ContactDraft(name="Anna", email=address))
    if tags:
        contact.tags = tags
        await contact.save()
    deal = await open_deal(crm, contact, owner_id=owner.id if owner else None, team="main")
    return contact, deal


async def test_a_letter_from_any_address_of_a_contact_goes_on_his_open_deal(crm: Crm) -> None:
    rep = await employee()
    contact, deal = await client(crm, "anna@client.example", rep)
    assert await add_address(contact.id, "Anna@Home.Example")
    assert not await add_address(contact.id, "anna@client.example")  # his already
    got = await receive(crm, incoming("anna@home.example", "Счёт", "строка 1\nстрока 2",
                                      attachments=("счёт.pdf",)))
    assert got.fate == Fate.DEAL and got.known
    [notice] = got.notices
    assert (notice.kind, notice.employee_id, notice.deal_id) == (NoticeKind.LETTER, rep.id, deal.id)
    event = await TimelineEvent.get(deal_id=deal.id, kind="msg_in")
    for part in ("Счёт", "anna@home.example", "строка 1", "строка 2", "счёт.pdf"):
        assert part in event.text
    letter = await Letter.get(id=got.letter.id)  # type: ignore[union-attr]
    assert letter.deal_id == deal.id  # type: ignore[attr-defined]


async def test_a_known_contact_without_an_open_deal_gets_a_lead_routed_like_chat(
    crm: Crm,
) -> None:
    sales = await employee(team="sales")
    contact, _ = await find_or_create_contact(crm, ContactDraft(name="A", email="a@x.example"))
    got = await receive(crm, incoming("a@x.example"), team="sales")
    assert got.fate == Fate.LEAD and got.known
    deal = await Deal.get(contact_id=contact.id)
    assert (deal.source, deal.team, deal.owner_id) == ("e-mail", "sales", sales.id)  # type: ignore[attr-defined]
    assert [n.kind for n in got.notices] == [NoticeKind.NEW_LEAD]


async def test_a_lead_nobody_can_take_waits_and_its_overseers_are_told(crm: Crm) -> None:
    boss = await employee(Role.SUPERVISOR)
    got = await receive(crm, incoming("new@x.example"))
    assert got.fate == Fate.LEAD and not got.known
    assert [(n.kind, n.employee_id) for n in got.notices] == [(NoticeKind.LEAD_WAITING, boss.id)]


async def test_keywords_in_the_subject_and_vip_contacts_alert_the_rep_and_supervisor(
    crm: Crm,
) -> None:
    rep, boss = await employee(), await employee(Role.SUPERVISOR)
    await client(crm, "vip@x.example", rep, tags=["VIP"])
    await client(crm, "plain@x.example", rep)
    vip = await receive(crm, incoming("vip@x.example", "Hello"))
    assert vip.alerts == 1
    assert {(n.kind, n.employee_id) for n in vip.notices} == {
        (NoticeKind.LETTER, rep.id), (NoticeKind.ALERT, rep.id), (NoticeKind.ALERT, boss.id)
    }
    keyword = await receive(crm, incoming("plain@x.example", "СРОЧНО ответьте"))
    assert keyword.alerts == 1
    quiet = await receive(crm, incoming("plain@x.example", "Hello", "это срочно"))
    assert quiet.alerts == 0  # the body is not searched by default


async def test_the_body_is_searched_when_the_playbook_says_so(crm: Crm) -> None:
    crm.playbook = crm.playbook.model_copy(update={"mail": Mail(keywords_in_body=True)})
    rep = await employee()
    await client(crm, "plain@x.example", rep)
    got = await receive(crm, incoming("plain@x.example", "Hello", "подпишем договор"))
    assert got.alerts == 1


async def test_unknown_senders_are_only_kept_when_the_playbook_says_so(crm: Crm) -> None:
    crm.playbook = crm.playbook.model_copy(update={"mail": Mail(leads_from_unknown=False)})
    got = await receive(crm, incoming("stranger@x.example"))
    assert got.fate == Fate.KEPT and got.notices == ()
    assert not await Deal.exists()
    assert (await Letter.get(id=got.letter.id)).deal_id is None  # type: ignore[union-attr, attr-defined]


async def test_a_letter_is_claimed_once(crm: Crm) -> None:
    letter = incoming("a@x.example")
    assert (await receive(crm, letter)).fate == Fate.LEAD
    assert (await receive(crm, letter)).fate == Fate.DUPLICATE
    # The folder recreated: the same letter under a new UIDVALIDITY is known by its Message-ID.
    again = IncomingLetter(**{**letter.__dict__, "uidvalidity": 2, "uid": 1})
    assert (await receive(crm, again)).fate == Fate.DUPLICATE
    assert await Letter.filter(incoming=True).count() == 1


class Port:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[int, str]] = []
        self.moved: list[int] = []

    async def send_reply(self, letter: Letter, text: str) -> str:
        if self.fail:
            raise MailDeliveryError("550 no such user")
        self.sent.append((letter.id, text))
        return f"<reply-{len(self.sent)}@us>"

    async def file_answered(self, letter: Letter) -> bool:
        self.moved.append(letter.id)
        return True


async def test_a_reply_is_sent_recorded_and_the_letter_filed_once(crm: Crm) -> None:
    rep = await employee()
    _, deal = await client(crm, "anna@x.example", rep)
    got = await receive(crm, incoming("anna@x.example", "Вопрос"))
    letter = await letter_to_answer(rep, deal.id)
    assert isinstance(letter, Letter) and letter.id == got.letter.id  # type: ignore[union-attr]
    port = Port()
    await reply(crm, rep, letter, "Ответ 1", port)
    await reply(crm, rep, letter, "Ответ 2", port)
    assert [text for _, text in port.sent] == ["Ответ 1", "Ответ 2"]
    assert port.moved == [letter.id]
    out = await Letter.filter(incoming=False).order_by("id")
    assert [o.subject for o in out] == ["Re: Вопрос", "Re: Вопрос"]
    assert out[0].references == letter.message_id
    assert await TimelineEvent.filter(deal_id=deal.id, kind="msg_out").count() == 2


async def test_a_refused_reply_records_nothing(crm: Crm) -> None:
    rep = await employee()
    _, deal = await client(crm, "anna@x.example", rep)
    await receive(crm, incoming("anna@x.example"))
    letter = await letter_to_answer(rep, deal.id)
    assert isinstance(letter, Letter)
    with pytest.raises(MailDeliveryError):
        await reply(crm, rep, letter, "Ответ", Port(fail=True))
    assert not await TimelineEvent.filter(kind="msg_out").exists()
    assert (await Letter.get(id=letter.id)).replied_at is None


async def test_replies_go_back_the_way_the_client_last_wrote(crm: Crm) -> None:
    rep, other = await employee(), await employee()
    contact, deal = await client(crm, "anna@x.example", rep)
    assert await letter_to_answer(rep, deal.id) is None  # nothing from him yet
    await receive(crm, incoming("anna@x.example"))
    assert isinstance(await letter_to_answer(rep, deal.id), Letter)
    assert await letter_to_answer(other, deal.id) == ReplyRefusal.FORBIDDEN
    assert await letter_to_answer(rep, 10**6) == ReplyRefusal.NO_DEAL
    await record_incoming(crm, contact, deal, ChatContent("в Телеграме"), 1)
    assert await letter_to_answer(rep, deal.id) is None


async def test_a_duplicate_inside_a_transaction_leaves_it_usable(crm: Crm) -> None:
    """As the watcher calls it: in a transaction, which must still commit after the claim's
    unique key refused the letter (PostgreSQL aborts a transaction on an error)."""
    letter = incoming("a@x.example")
    await receive(crm, letter)
    async with in_transaction():
        assert (await receive(crm, letter)).fate == Fate.DUPLICATE
        await employee()
    assert await Employee.exists()


async def test_an_import_with_another_address_of_a_known_contact_adds_it(
    crm: Crm, tmp_path: Path
) -> None:
    first, second, third = (tmp_path / f"{n}.csv" for n in (1, 2, 3))
    first.write_text("name;phone;email\nAnna;8 999 123-45-67;anna@work.example\n", "utf-8")
    second.write_text("name;phone;email\nAnna;8 999 123-45-67;Anna@Home.example\n", "utf-8")
    third.write_text("name;email;company\nAnna;anna@home.example;Acme\n", "utf-8")
    await import_csv(crm, first)
    assert (await import_csv(crm, second)).merged == 1
    assert (await import_csv(crm, third)).merged == 1  # found by the other address
    anna = await Contact.get(email="anna@work.example")
    assert anna.company == "Acme"
    assert await contact_by_email("ANNA@home.example") == anna
    assert await find_contact(ContactDraft(email="anna@home.example")) == anna
    assert await Contact.all().count() == 1
