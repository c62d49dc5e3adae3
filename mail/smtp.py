"""Replies by SMTP (aiosmtplib), threaded under the client's letter, and the answered letter
moved out of the watched folder: crm.mail.MailPort for the running app."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from config.mail import MailboxUrl, SmtpUrl
from crm.mail import MailDeliveryError, reply_subject
from mail.imap import ImapFailure, describe, move
from storage.models import Letter

log = logging.getLogger(__name__)


def compose(letter: Letter, text: str, sender: str) -> EmailMessage:
    """The answer: To the letter's sender, Re: its subject, In-Reply-To and References so the
    client's mail program shows it in the same thread."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = letter.sender
    message["Subject"] = reply_subject(letter.subject or "")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if letter.message_id:
        message["In-Reply-To"] = letter.message_id
        message["References"] = f"{letter.references} {letter.message_id}".strip()
    message.set_content(text)
    return message


class MailPort:
    """crm.mail.MailPort over NEXTSTEP_SMTP and the watched mailboxes."""

    def __init__(
        self, smtp: SmtpUrl | None, mailboxes: list[MailboxUrl], answered_folder: str,
        timeout: float = 30.0, *, use_move: bool = True,
    ) -> None:
        self.smtp = smtp
        self.mailboxes = {box.key: box for box in mailboxes}
        self.answered_folder = answered_folder
        self.timeout = timeout
        self.use_move = use_move
        self.sent = 0
        self.failed = 0

    async def send_reply(self, letter: Letter, text: str) -> str:
        if self.smtp is None:
            raise MailDeliveryError("NEXTSTEP_SMTP is not set")
        message = compose(letter, text, self.smtp.sender)
        try:
            await aiosmtplib.send(
                message, hostname=self.smtp.host, port=self.smtp.port,
                username=self.smtp.user, password=self.smtp.password,
                use_tls=self.smtp.tls, start_tls=None if not self.smtp.tls else False,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self.failed += 1
            log.warning("reply to letter %s not sent: %s", letter.id, describe(exc))
            raise MailDeliveryError(describe(exc)) from exc
        self.sent += 1
        return str(message["Message-ID"])

    async def file_answered(self, letter: Letter) -> bool:
        box = self.mailboxes.get(letter.mailbox)
        if box is None or letter.uid is None:
            return False  # not a watched mailbox any more
        try:
            await move(box, letter.uidvalidity, letter.uid, self.answered_folder, self.timeout,
                       use_move=self.use_move)
        except ImapFailure as exc:
            log.warning("answered letter %s not moved to %s: %s", letter.id,
                        self.answered_folder, exc)
            return False
        return True
