"""The e-mail channel of the running app: a watcher per NEXTSTEP_IMAP mailbox, each letter
decoded and given to crm.mail, the people to tell told, and the counters /metrics shows."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from bot.health import is_store_outage
from bot.web import Sample
from config.mail import MailboxUrl, parse_mailboxes, parse_smtp
from config.settings import Settings
from crm.context import Crm
from crm.mail import Fate, receive
from crm.notices import Notifier
from mail.decode import MalformedLetter, decode
from mail.smtp import MailPort
from mail.watcher import Link, Timing, Watcher

log = logging.getLogger(__name__)


@dataclass
class MailCounters:
    seen: int = 0  # letters read from a mailbox by this worker
    matched: int = 0  # from a known contact's address
    leads: int = 0  # opened a lead
    kept: int = 0  # from an unknown address, kept without a deal
    alerts: int = 0  # letters that raised an alert
    duplicates: int = 0  # already handled (another worker, a catch-up)
    failures: int = 0  # malformed letters and letters whose handling failed


class MailService:
    def __init__(
        self, settings: Settings, crm: Crm, notifier: Notifier, timing: Timing | None = None,
        *, use_move: bool = True,
    ) -> None:
        self.crm = crm
        self.notifier = notifier
        self.mailboxes = parse_mailboxes(settings.imap)
        self.port = MailPort(parse_smtp(settings.smtp), self.mailboxes,
                             crm.playbook.mail.answered_folder, use_move=use_move)
        self.counters = MailCounters()
        self.watchers = [Watcher(box, self.handle, timing) for box in self.mailboxes]

    def start(self) -> None:
        for watcher in self.watchers:
            watcher.start()

    async def stop(self) -> None:
        for watcher in self.watchers:
            await watcher.stop()

    async def handle(self, box: MailboxUrl, raw: bytes, uidvalidity: int, uid: int) -> None:
        """One letter; raises only while the store is away (the watcher tries it again)."""
        self.counters.seen += 1
        try:
            letter = decode(raw, box.key, uidvalidity, uid)
        except MalformedLetter as exc:
            self.counters.failures += 1
            log.warning("mailbox %s: letter %s:%s skipped, malformed: %s", box.key,
                        uidvalidity, uid, exc)
            return
        try:
            # The claim commits with the letter's deal and timeline line, or not at all.
            async with in_transaction():
                received = await receive(self.crm, letter, box.team or None)
        except Exception as exc:
            if is_store_outage(exc):
                raise
            self.counters.failures += 1
            log.exception("mailbox %s: letter %s:%s failed", box.key, uidvalidity, uid)
            return
        self._count(received.fate, received.known, received.alerts)
        for notice in received.notices:
            try:
                await self.notifier.notify(notice)
            except Exception:  # Telegram away: the letter is on the timeline all the same
                log.exception("mailbox %s: notice %s not sent", box.key, notice.kind)

    def _count(self, fate: Fate, known: bool, alerts: int) -> None:
        counters = self.counters
        counters.duplicates += fate == Fate.DUPLICATE
        counters.leads += fate == Fate.LEAD
        counters.kept += fate == Fate.KEPT
        counters.matched += known and fate in (Fate.DEAL, Fate.LEAD)
        counters.alerts += alerts > 0

    def links(self) -> dict[str, str]:
        """Each mailbox's connection state, for /healthz."""
        return {w.box.key: str(w.link) for w in self.watchers}

    def samples(self) -> list[Sample]:
        samples = [
            Sample(f"mail_letters_{name}_total", value, f"letters: {name}")
            for name, value in dataclasses.asdict(self.counters).items()
        ]
        up = sum(w.link == Link.UP for w in self.watchers)
        return [
            *samples,
            Sample("mail_replies_sent_total", self.port.sent, "replies sent by SMTP"),
            Sample("mail_replies_failed_total", self.port.failed, "replies SMTP refused"),
            Sample("mail_reconnects_total", sum(w.reconnects for w in self.watchers),
                   "mailbox reconnections"),
            Sample("mailboxes_up", up, "mailboxes connected and watched", "gauge"),
            Sample("mailboxes", len(self.watchers), "mailboxes configured", "gauge"),
        ]
