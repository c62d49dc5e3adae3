"""A raw letter (RFC 5322 bytes) to crm.mail.IncomingLetter, whatever it is made of.

The stdlib parser with policy.default reads multipart bodies, quoted-printable and base64,
encoded-word headers and declared charsets (koi8-r, cp1251...); a part whose charset is unknown
or wrong is read as UTF-8 with replacement characters rather than refused. An HTML-only letter
becomes readable text with html.parser. Anything the parser still trips on raises
MalformedLetter, which the watcher counts and logs.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser

from crm.mail import IncomingLetter

_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
           "blockquote", "pre", "hr"}
_SKIPPED = {"script", "style", "head", "title"}


class MalformedLetter(ValueError):
    """Not a letter the parser can read."""


class _Text(HTMLParser):
    """The text of an HTML body: block elements end lines, scripts and styles are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in
             "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return str(content)


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _part_text(part)
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    return text.replace("\r\n", "\n").strip()


def _attachments(message: EmailMessage) -> tuple[str, ...]:
    names = []
    for part in message.iter_attachments():
        name = part.get_filename()
        if name:
            names.append(str(name))
        elif part.get_content_maintype() != "multipart":
            names.append(part.get_content_type())
    return tuple(names)


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the registry cannot parse
        return ""
    return " ".join(str(value or "").split())


def _sender(message: EmailMessage) -> tuple[str, str]:
    """The address and display name of From (Reply-To wins: that is where answers go)."""
    for name in ("Reply-To", "From"):
        try:
            header = message.get(name)
        except (ValueError, IndexError, TypeError):
            header = None
        addresses = getattr(header, "addresses", ()) if header is not None else ()
        for address in addresses:
            if isinstance(address, Address) and address.addr_spec and "@" in address.addr_spec:
                return address.addr_spec.lower(), str(address.display_name or "")
        if header is not None:
            pairs = getaddresses([str(header)])
            for display, addr in pairs:
                if "@" in addr:
                    return addr.lower(), display
    return "", ""


def decode(raw: bytes, mailbox: str, uidvalidity: int, uid: int) -> IncomingLetter:
    """The letter as crm reads it; MalformedLetter when it is not one."""
    if not raw.strip():
        raise MalformedLetter("an empty letter")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        sender, name = _sender(message)
        if not sender:
            raise MalformedLetter("no sender address (From)")
        return IncomingLetter(
            mailbox=mailbox, uidvalidity=uidvalidity, uid=uid,
            message_id=_header(message, "Message-ID"),
            references=" ".join(
                dict.fromkeys(
                    (_header(message, "References") + " " + _header(message, "In-Reply-To"))
                    .split()
                )
            ),
            sender=sender, sender_name=name, subject=_header(message, "Subject"),
            text=_body(message), attachments=_attachments(message),
        )
    except MalformedLetter:
        raise
    except Exception as exc:  # the parser's internals raise many kinds on broken input
        raise MalformedLetter(f"{type(exc).__name__}: {exc}") from exc
