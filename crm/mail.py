"""Letters: a client's e-mail on his deal, the alerts it raises, and the rep's reply by mail.

The rules only; reading mailboxes and talking SMTP is the mail package's, behind MailPort. A
letter is claimed by inserting its row (unique mailbox + UIDVALIDITY + UID) before anything
else, so a second worker, or a catch-up that sees it again, does nothing. A letter from a known
address (any of the contact's: crm.deals.contact_by_email) goes on his open deal, else on a new
lead routed like a chat lead; a letter from an unknown address opens a lead (source "e-mail")
when the playbook's [mail] says so, else it is only kept. A reply goes back the way the client
last wrote: by mail when his deal's latest incoming message is a letter."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from crm.chat import ChatContent, ReplyRefusal, record_incoming, record_sent_elsewhere
from crm.context import Crm
from crm.deals import (
    ContactDraft,
    contact_by_email,
    find_or_create_contact,
    normalize_email,
    open_deal_of,
)
from crm.leads import Intake, alert_notices, find_alerts, open_lead
from crm.notices import Notice, NoticeKind
from crm.permissions import can_act_on
from storage.models import ChatMessage, Deal, Employee, Letter

SOURCE = "e-mail"
KIND = "email"  # ChatMessage.media_kind of a letter
FIRST_LINES = 5
FIRST_CHARS = 600


@dataclass(frozen=True)
class IncomingLetter:
    """A letter as the mail package decoded it."""

    mailbox: str
    uidvalidity: int
    uid: int
    message_id: str = ""
    references: str = ""  # the References header, for the reply's own
    sender: str = ""  # the address
    sender_name: str = ""
    subject: str = ""
    text: str = ""  # the body as plain text
    attachments: tuple[str, ...] = ()


class Fate(enum.StrEnum):
    DUPLICATE = "duplicate"  # claimed before (another worker, a catch-up)
    DEAL = "deal"  # on the contact's open deal
    LEAD = "lead"  # opened a new lead
    KEPT = "kept"  # unknown sender, no lead: kept without a deal


@dataclass(frozen=True)
class Received:
    fate: Fate
    letter: Letter | None = None
    notices: tuple[Notice, ...] = ()
    alerts: int = 0
    known: bool = False  # from an address a contact already had


class MailDeliveryError(Exception):
    """The reply could not be sent; the message says why (the server's words)."""


class MailPort(Protocol):
    """What crm needs of the mail package to answer a letter."""

    async def send_reply(self, letter: Letter, text: str) -> str:
        """Send `text` as the answer to `letter` (threaded); returns the new Message-ID."""
        ...

    async def file_answered(self, letter: Letter) -> bool:
        """Move the answered letter out of the watched folder; False if that failed (logged:
        the reply itself went out)."""
        ...


def summary(letter: IncomingLetter) -> str:
    """What the timeline and the rep see: subject, sender, the first lines, attachment names."""
    lines = [line.strip() for line in letter.text.splitlines() if line.strip()]
    body = "\n".join(lines[:FIRST_LINES])[:FIRST_CHARS]
    if len(lines) > FIRST_LINES or len("\n".join(lines[:FIRST_LINES])) > FIRST_CHARS:
        body += " …"
    who = f"{letter.sender_name} <{letter.sender}>" if letter.sender_name else letter.sender
    parts = [f"✉️ {letter.subject or '—'}", who]
    if body:
        parts.append(body)
    if letter.attachments:
        parts.append("📎 " + ", ".join(letter.attachments))
    return "\n".join(parts)


async def _claim(crm: Crm, found: IncomingLetter) -> Letter | None:
    if found.message_id and await Letter.filter(
        mailbox=found.mailbox, message_id=found.message_id, incoming=True
    ).exclude(uidvalidity=found.uidvalidity).exists():
        return None  # seen under the folder's earlier UIDVALIDITY
    try:
        # A savepoint of its own: in the caller's transaction, PostgreSQL would refuse every
        # later statement after the unique key's error.
        async with in_transaction():
            return await Letter.create(
                mailbox=found.mailbox, uidvalidity=found.uidvalidity, uid=found.uid,
                message_id=found.message_id[:998], references=found.references,
                sender=(normalize_email(found.sender) or found.sender)[:254],
                subject=found.subject, text=found.text, attachments=list(found.attachments),
                at=crm.now(),
            )
    except IntegrityError:
        return None


async def receive(crm: Crm, found: IncomingLetter, team: str | None = None) -> Received:
    """Claim a letter and put it where it belongs; the notices say whom to tell."""
    letter = await _claim(crm, found)
    if letter is None:
        return Received(Fate.DUPLICATE)
    contact = await contact_by_email(found.sender)
    new_contact = False
    if contact is None:
        if not crm.playbook.mail.leads_from_unknown or normalize_email(found.sender) is None:
            return Received(Fate.KEPT, letter)
        draft = ContactDraft(name=found.sender_name or found.sender, email=found.sender,
                             source=SOURCE)
        contact, new_contact = await find_or_create_contact(crm, draft)
    deal = await open_deal_of(contact.id)
    task = repeat_of = None
    if deal is None:
        deal, task, repeat_of = await open_lead(
            crm, contact, team or crm.playbook.leads.team, SOURCE
        )
    message = await record_incoming(crm, contact, deal, ChatContent(summary(found), KIND), None)
    await Letter.filter(id=letter.id).update(
        contact_id=contact.id, deal_id=deal.id, chat_message_id=message.id
    )
    alerts = find_alerts(crm, _searched(crm, found), [*contact.tags, *deal.tags])
    intake = Intake(contact, deal, task, message, new_contact, repeat_of, alerts)
    owner_id: int | None = deal.owner_id  # type: ignore[attr-defined]
    notices: list[Notice] = []
    params: dict[str, str | int | None] = {
        "text": message.text, "chat_message_id": message.id,
        "alerts": ", ".join(a.word for a in alerts) or None,
    }
    lead_card = bool(task and owner_id)
    if lead_card and task is not None and owner_id is not None:
        notices.append(Notice(owner_id, NoticeKind.NEW_LEAD, task.id, deal.id, params))
    elif owner_id is not None:
        notices.append(Notice(owner_id, NoticeKind.LETTER, None, deal.id, params))
    notices += await alert_notices(intake, owner_told=lead_card)
    fate = Fate.LEAD if task else Fate.DEAL
    return Received(fate, letter, tuple(notices), len(alerts), known=not new_contact)


def _searched(crm: Crm, found: IncomingLetter) -> str:
    """Where the alert keywords are looked for: the subject, and the body if the playbook says."""
    if crm.playbook.mail.keywords_in_body:
        return f"{found.subject}\n{found.text}"
    return found.subject


async def letter_to_answer(employee: Employee, deal_id: int) -> Letter | ReplyRefusal | None:
    """The letter a reply on this deal answers: the deal's latest incoming message, when it is
    a letter (None: it is not, the reply goes by Telegram). Refused like a chat reply."""
    deal = await Deal.get_or_none(id=deal_id)
    if deal is None:
        return ReplyRefusal.NO_DEAL
    if not can_act_on(employee, deal.owner_id, deal.team):  # type: ignore[attr-defined]
        return ReplyRefusal.FORBIDDEN
    latest = await ChatMessage.filter(deal_id=deal_id, incoming=True).order_by("-id").first()
    if latest is None or latest.media_kind != KIND:
        return None
    return await Letter.filter(chat_message_id=latest.id).first()


async def reply(crm: Crm, employee: Employee, letter: Letter, text: str, port: MailPort) -> None:
    """Send the rep's answer by mail, record it on the timeline, file the letter as answered.
    MailDeliveryError when the server refused it: nothing is recorded then."""
    message_id = await port.send_reply(letter, text)
    contact_id: int = letter.contact_id  # type: ignore[attr-defined]
    deal_id: int | None = letter.deal_id  # type: ignore[attr-defined]
    chat = await record_sent_elsewhere(crm, contact_id, deal_id, employee, text, KIND)
    now = crm.now()
    await Letter.create(
        mailbox=letter.mailbox, uidvalidity=letter.uidvalidity, uid=None, message_id=message_id,
        references=f"{letter.references} {letter.message_id}".strip(), incoming=False,
        sender=letter.sender, subject=reply_subject(letter.subject), text=text,
        contact_id=contact_id, deal_id=deal_id, employee_id=employee.id,
        chat_message_id=chat.id, at=now,
    )
    first = await Letter.filter(id=letter.id, replied_at=None).update(replied_at=now)
    if first and await port.file_answered(letter):
        await Letter.filter(id=letter.id).update(moved_at=crm.now())


def reply_subject(subject: str) -> str:
    """"Re: " before the letter's subject, once."""
    return subject if subject[:3].casefold() == "re:" else f"Re: {subject}"
