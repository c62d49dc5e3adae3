"""The board's version as the browser holds it: crm.board's Watermark sealed with Fernet
(authenticated encryption, keyed from the bot token), so a viewer learns nothing from it (its
event ids would show the whole company's activity) and cannot forge one."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken

from crm.board import Watermark


def _fernet(token: str) -> Fernet:
    key = hashlib.sha256(b"board-version:" + token.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(mark: Watermark, token: str) -> str:
    plain = json.dumps([mark.top, [list(g) for g in mark.gaps]], separators=(",", ":"))
    return _fernet(token).encrypt(plain.encode()).decode()


def unseal(text: str, token: str) -> Watermark | None:
    """The watermark sealed with this token, or None for anything else."""
    try:
        top, gaps = json.loads(_fernet(token).decrypt(text.encode()))
    except (InvalidToken, ValueError, TypeError):
        return None
    return Watermark(int(top), tuple((int(g), int(t)) for g, t in gaps))
