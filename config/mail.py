"""The mail settings' shapes: NEXTSTEP_IMAP's mailbox URLs and NEXTSTEP_SMTP's server URL.

imap://user:pass@host:143/INBOX?team=sales is plain text, imaps://…:993 is TLS; several
mailboxes are separated by spaces or given as a JSON list. smtp://user:pass@host:587 uses
STARTTLS when the server offers it, smtps://…:465 is TLS from the start; ?from= sets the From
address (default: the user). User names and passwords are URL-quoted (an @ in a login is %40).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class MailboxUrl:
    host: str
    port: int
    user: str
    password: str
    folder: str
    team: str  # "" : the playbook's [leads] team
    tls: bool

    @property
    def key(self) -> str:
        """The mailbox's name in the store and the logs (no password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


@dataclass(frozen=True)
class SmtpUrl:
    host: str
    port: int
    user: str
    password: str
    sender: str
    tls: bool


def _server(text: str, schemes: dict[str, tuple[bool, int]]) -> tuple:
    parts = urlsplit(text)
    if parts.scheme not in schemes:
        starts = " or ".join(scheme + "://" for scheme in schemes)
        raise ValueError(f"{_shown(text)!r} must start with {starts}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{_shown(text)}: bad port") from None
    if not parts.hostname or not parts.username or parts.password is None:
        raise ValueError(f"{_shown(text)}: needs user:password@host")
    tls, default_port = schemes[parts.scheme]
    return parts, tls, port or default_port


def _shown(text: str) -> str:
    """The URL without its password, for an error message."""
    parts = urlsplit(text)
    if parts.password is None:
        return text
    return text.replace(":" + parts.password + "@", ":***@", 1)


def parse_mailbox(text: str) -> MailboxUrl:
    parts, tls, port = _server(text, {"imap": (False, 143), "imaps": (True, 993)})
    query = parse_qs(parts.query)
    unknown = set(query) - {"team"}
    if unknown:
        raise ValueError(f"{_shown(text)}: unknown parameter {sorted(unknown)[0]!r}")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return MailboxUrl(
        parts.hostname, port, unquote(parts.username), unquote(parts.password), folder,
        query.get("team", [""])[0], tls,
    )


def parse_mailboxes(value: str) -> list[MailboxUrl]:
    """Space-separated URLs or a JSON list of them; empty: no mailbox."""
    value = value.strip()
    if value.startswith("["):
        try:
            items = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list: {exc.msg}") from None
        if not all(isinstance(item, str) for item in items):
            raise ValueError("the JSON list must hold URL strings")
    else:
        items = value.split()
    mailboxes = [parse_mailbox(item) for item in items]
    keys = [m.key for m in mailboxes]
    if len(set(keys)) != len(keys):
        raise ValueError("the same mailbox is named twice")
    return mailboxes


def parse_smtp(text: str) -> SmtpUrl | None:
    if not text.strip():
        return None
    parts, tls, port = _server(text.strip(), {"smtp": (False, 587), "smtps": (True, 465)})
    query = parse_qs(parts.query)
    user = unquote(parts.username)
    sender = query.get("from", [user])[0]
    if "@" not in sender:
        raise ValueError(f"{_shown(text)}: set ?from=address (the user is not an address)")
    return SmtpUrl(parts.hostname, port, user, unquote(parts.password), sender, tls)
