"""The watcher against a real dovecot: letters delivered while idle are handled at once, a
restart and a dropped connection catch up by UID, two workers handle each letter once, IDLE is
renewed, and a folder recreated (new UIDVALIDITY) does not bring back letters handled before."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from config.settings import Settings
from crm.context import Crm
from crm.notices import Notice
from mail.service import MailService
from mail.watcher import Link, Timing
from storage.models import Contact, Letter, TimelineEvent
from tests.mail.servers import Dovecot

pytestmark = pytest.mark.dovecot
FAST = Timing(command=5.0, renew=1.0, backoff_first=0.2, backoff_max=1.0)


class Told:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)


def letter(n: int, sender: str = "client@example.com", subject: str = "") -> str:
    return (
        f"From: Client {n} <{sender}>\r\nTo: sales@example.com\r\n"
        f"Subject: {subject or f'Letter {n}'}\r\n"
        f"Message-ID: <letter-{n}-{time.time_ns()}@example.com>\r\n"
        f"\r\nHello, this is letter {n}.\r\n"
    )


def service(crm: Crm, server: Dovecot, timing: Timing = FAST) -> MailService:
    settings = Settings(_env_file=None, imap=server.url())  # type: ignore[call-arg]
    return MailService(settings, crm, Told(), timing)


@contextlib.asynccontextmanager
async def watching(
    crm: Crm, server: Dovecot, timing: Timing = FAST
) -> AsyncIterator[MailService]:
    """A started service once its watcher is connected; stopped after."""
    mail = service(crm, server, timing)
    mail.start()
    try:
        await until(lambda: mail.watchers[0].link == Link.UP)
        yield mail
    finally:
        await mail.stop()


async def until(check: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await _value(check):
        if time.monotonic() > deadline:
            raise AssertionError("not within the time")
        await asyncio.sleep(0.05)


async def _value(check: Callable[[], object]) -> object:
    result = check()
    if asyncio.iscoroutine(result):
        return await result
    return result


async def letters() -> int:
    return await Letter.filter(incoming=True).count()


async def test_a_letter_delivered_while_idle_is_handled_within_5_seconds(
    crm: Crm, dovecot: Dovecot
) -> None:
    async with watching(crm, dovecot) as mail:
        await asyncio.sleep(0.3)  # in IDLE by now
        started = time.monotonic()
        dovecot.deliver(letter(1))
        await until(lambda: letters(), 5.0)
        assert time.monotonic() - started < 5
        contact = await Contact.get(email="client@example.com")
        assert contact.source == "e-mail"
        event = await TimelineEvent.get(kind="msg_in")
        assert "Letter 1" in event.text and "Hello, this is letter 1." in event.text
        assert mail.counters.seen == 1 and mail.counters.leads == 1


async def test_letters_come_while_it_is_down_are_caught_up_after_a_restart(
    crm: Crm, dovecot: Dovecot
) -> None:
    async with watching(crm, dovecot):
        dovecot.deliver(letter(1))
        await until(lambda: letters())
    dovecot.deliver(letter(2))
    dovecot.deliver(letter(3))
    again = service(crm, dovecot)
    again.start()
    try:
        await until(lambda: _count_is(3))
        assert again.counters.seen == 2
    finally:
        await again.stop()


async def _count_is(n: int) -> bool:
    return await letters() == n


@pytest.mark.parametrize("drop", ["kick", "kill"])
async def test_a_dropped_connection_reconnects_and_catches_up(
    crm: Crm, dovecot: Dovecot, drop: str
) -> None:
    async with watching(crm, dovecot) as mail:
        watcher = mail.watchers[0]
        await asyncio.sleep(0.3)
        if drop == "kick":
            dovecot.kick()  # the server says BYE and closes
        else:
            dovecot.kill_imap()  # no BYE: the connection just ends
        dovecot.deliver(letter(1))  # while the watcher is away
        await until(lambda: watcher.reconnects >= 1)
        await until(lambda: _count_is(1))
        await until(lambda: watcher.link == Link.UP)
        dovecot.deliver(letter(2))
        await until(lambda: _count_is(2))


async def test_a_server_that_goes_away_is_reported_and_retried(
    crm: Crm, dovecot: Dovecot
) -> None:
    async with watching(crm, dovecot) as mail:
        watcher = mail.watchers[0]
        dovecot.stop()
        await until(lambda: watcher.link == Link.DOWN)
        assert mail.links() == {dovecot.url().split("//")[1].replace(":secret", ""): "unreachable"}
        dovecot.root.joinpath("dovecot.log").unlink(missing_ok=True)
        dovecot.start_again()
        await until(lambda: watcher.link == Link.UP, 10)


async def test_two_workers_handle_each_letter_once(crm: Crm, dovecot: Dovecot) -> None:
    one, two = service(crm, dovecot), service(crm, dovecot)
    one.start()
    two.start()
    try:
        await until(lambda: one.watchers[0].link == two.watchers[0].link == Link.UP)
        for n in range(20):
            dovecot.deliver(letter(n, sender=f"client{n}@example.com"))
        await until(lambda: _count_is(20), 15)
        await asyncio.sleep(0.5)  # the slower worker's catch-up is over too
        assert await letters() == 20
        assert await TimelineEvent.filter(kind="msg_in").count() == 20
        assert one.counters.leads + two.counters.leads == 20
    finally:
        await one.stop()
        await two.stop()


async def test_idle_is_renewed_and_letters_still_arrive(crm: Crm, dovecot: Dovecot) -> None:
    async with watching(crm, dovecot, Timing(command=5.0, renew=0.3, backoff_first=0.2)) as mail:
        await asyncio.sleep(1.2)  # several renewals
        assert mail.watchers[0].reconnects == 0
        dovecot.deliver(letter(1))
        await until(lambda: _count_is(1))


async def test_a_recreated_folder_does_not_bring_back_handled_letters(
    crm: Crm, dovecot: Dovecot
) -> None:
    old = letter(1)
    async with watching(crm, dovecot):
        dovecot.deliver(old)
        await until(lambda: _count_is(1))
    dovecot.wipe_mailbox()
    await asyncio.sleep(1.1)  # UIDVALIDITY is a time in seconds
    dovecot.deliver(old)  # the same letter again, in the new folder
    dovecot.deliver(letter(2))
    again = service(crm, dovecot)
    again.start()
    try:
        await until(lambda: _count_is(2))
        await asyncio.sleep(0.3)
        assert await letters() == 2
        assert again.counters.seen == 2 and again.counters.duplicates == 1
    finally:
        await again.stop()


async def test_a_malformed_letter_is_counted_and_the_next_one_still_handled(
    crm: Crm, dovecot: Dovecot
) -> None:
    async with watching(crm, dovecot) as mail:
        dovecot.deliver(b"Subject: no sender at all\r\n\r\n\xff\xfe\x00 broken\r\n")
        dovecot.deliver(letter(1))
        await until(lambda: _count_is(1))
        assert mail.counters.failures == 1 and mail.counters.seen == 2
        assert mail.watchers[0].link == Link.UP


@pytest.mark.parametrize("use_move", [True, False], ids=["move", "copy-expunge"])
async def test_an_answered_letter_is_moved_to_the_answered_folder(
    crm: Crm, dovecot: Dovecot, use_move: bool
) -> None:
    mail = service(crm, dovecot)
    mail.port.use_move = use_move
    mail.start()
    try:
        await until(lambda: mail.watchers[0].link == Link.UP)
        dovecot.deliver(letter(1))
        dovecot.deliver(letter(2))
        await until(lambda: _count_is(2))
        first = await Letter.filter(incoming=True).order_by("uid").first()
        assert first is not None
        assert await mail.port.file_answered(first)
        assert len(dovecot.folder_files("Answered")) == 1
        assert len(dovecot.folder_files("INBOX")) == 1  # the other letter stays
        await mail.port.file_answered(first)  # moved already: the server does nothing
        assert len(dovecot.folder_files("Answered")) == 1
    finally:
        await mail.stop()
