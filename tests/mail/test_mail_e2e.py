"""The e-mail channel end to end: the real App with a real dovecot, an SMTP server and the fake
Bot API. A letter reaches its deal's timeline and the rep's Telegram within 5 s, alerts go to
the supervisor, the rep's Reply goes out by SMTP threaded under the letter and moves it to the
answered folder, a refused reply tells the rep, and /metrics and /healthz show the mailboxes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.callbacks import Reply
from config.playbook import DEFAULT_PLAYBOOK
from crm.chat import relayed_message
from crm.deals import ContactDraft, add_address, find_or_create_contact, open_deal
from storage.models import Contact, Deal, Letter, TimelineEvent
from tests.e2e.harness import Harness, Staff
from tests.fakes import Call
from tests.mail.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.dovecot
Factory = Callable[..., Any]
ANNA = "anna@client.example"


def letter(sender: str, subject: str, body: str = "Добрый день! Пришлите счёт.") -> bytes:
    message_id = f"<{time.time_ns()}@client.example>"
    return (
        f"From: Anna Client <{sender}>\r\nTo: sales@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ).encode()


def to(user_id: int) -> Callable[[Call], bool]:
    def sent_to(call: Call) -> bool:
        return (call.ok and call.method.lower() == "sendmessage"
                and call.params.get("chat_id") == user_id)
    return sent_to


async def rep_with_client(h: Harness) -> tuple[Staff, Deal]:
    """The rep, and his deal with Anna, who writes from anna@client.example."""
    rep = await h.make_employee("rep", name="Rep")
    crm = h.running.crm
    contact, _ = await find_or_create_contact(crm, ContactDraft(name="Anna", email=ANNA))
    return rep, await open_deal(crm, contact, owner_id=rep.employee.id, team="main")


def reply_button(call: Call) -> str:
    rows = call.params["reply_markup"]["inline_keyboard"]
    if isinstance(rows, str):
        rows = json.loads(rows)["inline_keyboard"]
    prefix = Reply.__prefix__ + ":"
    return next(b["callback_data"] for row in rows for b in row
                if b["callback_data"].startswith(prefix))


async def test_a_letter_reaches_the_timeline_and_the_rep_and_his_reply_goes_by_mail(
    make_harness: Factory, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    async with make_harness(imap=dovecot.url(), smtp=smtp_sink.url()) as h:
        rep, deal = await rep_with_client(h)
        await add_address((await Contact.get(email=ANNA)).id,
                          "anna.private@client.example")
        await _watching(h)
        since = len(h.api.sent)
        started = time.monotonic()
        dovecot.deliver(letter("Anna.Private@client.example", "Счёт на март"))
        call = await h.api.wait_for(to(rep.user.id), since=since, timeout=5)
        assert time.monotonic() - started < 5
        assert "Счёт на март" in call.params["text"]
        assert "Пришлите счёт" in call.params["text"]
        event = await TimelineEvent.get(deal_id=deal.id, kind="msg_in")
        assert "Счёт на март" in event.text and "anna.private@client.example" in event.text

        pressed = await h.press(rep.user, reply_button(call), call.result["message_id"])
        assert "по e-mail" in pressed.text
        answer = await h.say(rep.user, "Здравствуйте, Анна! Счёт во вложении.")
        assert "Отправлено клиенту по e-mail" in answer.text
        [sent] = await smtp_sink.wait_for(1)
        original = await Letter.get(incoming=True)
        assert sent["To"] == "anna.private@client.example"
        assert sent["Subject"] == "Re: Счёт на март"
        assert sent["In-Reply-To"] == original.message_id
        assert original.message_id in sent["References"]
        assert "Счёт во вложении" in sent.get_content()
        out = await TimelineEvent.get(deal_id=deal.id, kind="msg_out")
        assert "Счёт во вложении" in out.text
        moved = await Letter.get(id=original.id)
        assert moved.replied_at is not None and moved.moved_at is not None
        assert len(dovecot.folder_files("Answered")) == 1
        assert dovecot.folder_files("INBOX") == []


async def test_a_refused_reply_tells_the_rep_and_records_nothing(
    make_harness: Factory, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    async with make_harness(imap=dovecot.url(), smtp=smtp_sink.url()) as h:
        rep, deal = await rep_with_client(h)
        await _watching(h)
        since = len(h.api.sent)
        dovecot.deliver(letter(ANNA, "Вопрос"))
        call = await h.api.wait_for(to(rep.user.id), since=since, timeout=5)
        smtp_sink.refuse = True
        await h.press(rep.user, reply_button(call), call.result["message_id"])
        answer = await h.say(rep.user, "Ответ")
        assert "Письмо не доставлено" in answer.text and "Rejected for the test" in answer.text
        assert not await TimelineEvent.filter(deal_id=deal.id, kind="msg_out").exists()
        assert len(dovecot.folder_files("INBOX")) == 1
        metrics = await _get(h, "/metrics")
        assert "nextstep_mail_replies_failed_total 1.0" in metrics


async def test_keywords_alert_the_supervisor_and_an_unknown_sender_becomes_a_lead(
    make_harness: Factory, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    async with make_harness(imap=dovecot.url(), smtp=smtp_sink.url()) as h:
        rep = await h.make_employee("rep", name="Rep")
        boss = await h.make_employee("supervisor", name="Boss")
        await _watching(h)
        since = len(h.api.sent)
        dovecot.deliver(letter("new@client.example", "Срочно: договор на подпись"))
        card = await h.api.wait_for(to(rep.user.id), since=since, timeout=5)
        alert = await h.api.wait_for(to(boss.user.id), since=since, timeout=5)
        assert "договор" in card.params["text"] and "🚨" in card.params["text"]
        assert "🚨" in alert.params["text"]
        deal = await Deal.get(source="e-mail")
        assert deal.owner_id == rep.employee.id  # type: ignore[attr-defined]
        metrics = await _get(h, "/metrics")
        for line in ("nextstep_mail_letters_seen_total 1.0",
                     "nextstep_mail_letters_leads_total 1.0",
                     "nextstep_mail_letters_alerts_total 1.0", "nextstep_mailboxes_up 1.0"):
            assert line in metrics
        health = json.loads(await _get(h, "/healthz"))
        assert list(health["mailboxes"].values()) == ["ok"]


@pytest.fixture
def no_mail_leads(tmp_path: Path) -> Path:
    """The default playbook with leads_from_unknown = false."""
    playbook = tmp_path / "playbook.toml"
    default = DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
    playbook.write_text(default.replace("leads_from_unknown = true",
                                        "leads_from_unknown = false"), encoding="utf-8")
    return playbook


async def test_without_leads_from_unknown_a_letter_is_only_kept(
    make_harness: Factory, dovecot: Dovecot, smtp_sink: SmtpSink, no_mail_leads: Path
) -> None:
    playbook = no_mail_leads
    async with make_harness(imap=dovecot.url(), smtp=smtp_sink.url(), playbook=playbook) as h:
        await h.make_employee("rep", name="Rep")
        await _watching(h)
        dovecot.deliver(letter("stranger@else.example", "Реклама"))
        mail = h.running.mail
        assert mail is not None
        deadline = time.monotonic() + 5
        while mail.counters.kept < 1:
            assert time.monotonic() < deadline, "the letter was not handled"
            await _sleep()
        kept = await Letter.get(incoming=True)
        assert kept.deal_id is None and kept.sender == "stranger@else.example"  # type: ignore[attr-defined]
        assert not await Deal.exists()


async def _watching(h: Harness) -> None:
    mail = h.running.mail
    assert mail is not None
    deadline = time.monotonic() + 5
    while any(str(link) != "ok" for link in mail.links().values()):
        assert time.monotonic() < deadline, "the mailbox was not watched"
        await _sleep()
    await _sleep(0.3)  # in IDLE


async def _linked(chat_id: int, message_id: int) -> None:
    deadline = time.monotonic() + 5
    while await relayed_message(chat_id, message_id) is None:
        assert time.monotonic() < deadline, "the letter's copy was never linked to it"
        await _sleep()


async def _sleep(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)


async def _get(h: Harness, path: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{h.running.web_port}{path}"
    ) as response:
        return await response.text()


async def test_a_telegram_reply_to_the_letter_goes_by_mail_and_a_restart_catches_up(
    make_harness: Factory, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    async with make_harness(imap=dovecot.url(), smtp=smtp_sink.url()) as h:
        rep, deal = await rep_with_client(h)
        await _watching(h)
        await h.stop()
        dovecot.deliver(letter(ANNA, "Пока вас не было"))  # while stopped
        since = len(h.api.sent)
        await h.start()
        call = await h.api.wait_for(to(rep.user.id), since=since, timeout=5)
        assert "Пока вас не было" in call.params["text"]
        # The copy is linked to the letter once Telegram has answered the send, a moment after
        # the fake API saw it: a rep cannot reply sooner, a test can.
        await _linked(rep.user.id, call.result["message_id"])
        answer = await h.say(rep.user, "Уже отвечаю", reply_to=call.result["message_id"])
        assert "Отправлено клиенту по e-mail" in answer.text
        [sent] = await smtp_sink.wait_for(1)
        assert sent["Subject"] == "Re: Пока вас не было"
        assert await TimelineEvent.filter(deal_id=deal.id, kind="msg_in").count() == 1
