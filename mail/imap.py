"""IMAP sessions with aioimaplib, every step bounded by a timeout: log in and select a folder,
list and fetch letters by UID, move a letter to another folder.

aioimaplib raises many kinds (its own, TimeoutError, OSError, a server's NO as a result): every
failure here becomes ImapFailure with one line saying what went wrong.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import aioimaplib

from config.mail import MailboxUrl

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")


class ImapFailure(Exception):
    """The server is unreachable, refused us, or broke off."""


@dataclass(frozen=True)
class Selected:
    uidvalidity: int
    uidnext: int


def _check(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        said = b" ".join(bytes(line) for line in response.lines[-1:]).decode("utf-8", "replace")
        raise ImapFailure(f"{what}: server answered {response.result} {said}".strip())
    return response


def quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def open_session(
    box: MailboxUrl, bound: float, on_lost: Callable[[Exception | None], None] | None = None,
) -> tuple[aioimaplib.IMAP4, Selected]:
    """Connected, logged in, the box's folder selected; each command within `bound` seconds."""
    try:
        if box.tls:
            imap: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                box.host, box.port, timeout=bound, ssl_context=ssl.create_default_context()
            )
        else:
            imap = aioimaplib.IMAP4(box.host, box.port, timeout=bound)
        imap.protocol.conn_lost_cb = on_lost
        await imap.wait_hello_from_server()
        _check(await imap.login(box.user, box.password), "login")
        response = _check(await imap.select(quoted(box.folder)), f"select {box.folder}")
    except ImapFailure:
        raise
    except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
        raise ImapFailure(describe(exc)) from exc
    text = b" ".join(bytes(line) for line in response.lines)
    validity, uidnext = _UIDVALIDITY.search(text), _UIDNEXT.search(text)
    if validity is None:
        raise ImapFailure(f"select {box.folder}: no UIDVALIDITY in the answer")
    return imap, Selected(int(validity[1]), int(uidnext[1]) if uidnext else 1)


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def uids_after(imap: aioimaplib.IMAP4, last: int) -> list[int]:
    """UIDs above `last`, in order (UID SEARCH n:* also answers the highest UID below n)."""
    response = _check(await imap.uid_search(f"UID {last + 1}:*", charset=None), "search")
    found: list[int] = []
    for line in response.lines[:-1]:  # aioimaplib drops "* SEARCH", leaving the numbers
        words = bytes(line).removeprefix(b"SEARCH").split()
        if words and all(w.isdigit() for w in words):
            found += [int(w) for w in words if int(w) > last]
    return sorted(set(found))


async def fetch(imap: aioimaplib.IMAP4, uid: int) -> bytes | None:
    """The whole letter, not marking it seen; None if it is gone (expunged meanwhile)."""
    response = _check(await imap.uid("fetch", str(uid), "(BODY.PEEK[])"), "fetch")
    for line in response.lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None


async def move(
    box: MailboxUrl, uidvalidity: int, uid: int, folder: str, bound: float,
    *, use_move: bool = True,
) -> None:
    """Move a letter to `folder` (made if missing): MOVE where the server offers it, else COPY,
    flag deleted and expunge (that UID only, with UIDPLUS)."""
    imap, selected = await open_session(box, bound)
    try:
        if selected.uidvalidity != uidvalidity:
            raise ImapFailure(f"{box.folder} was recreated: the letter is not where it was")
        await asyncio.wait_for(imap.protocol.simple_command("CREATE", quoted(folder)), bound)
        if use_move and imap.has_capability("MOVE"):
            _check(await imap.uid("move", str(uid), quoted(folder)), "move")
            return
        _check(await imap.uid("copy", str(uid), quoted(folder)), "copy")
        _check(await imap.uid("store", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "store")
        if imap.has_capability("UIDPLUS"):
            _check(await imap.uid("expunge", str(uid)), "expunge")
        else:
            _check(await imap.expunge(), "expunge")
    except ImapFailure:
        raise
    except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
        raise ImapFailure(describe(exc)) from exc
    finally:
        await close(imap, bound)


async def close(imap: aioimaplib.IMAP4, bound: float) -> None:
    """Log out politely if the connection is still there; drop it in any case."""
    transport = imap.protocol.transport
    if transport is None or transport.is_closing():
        return  # a logout would wait for an answer that cannot come
    try:
        await asyncio.wait_for(imap.logout(), bound)
    except (TimeoutError, OSError, aioimaplib.AioImapException):
        pass
    transport.close()
