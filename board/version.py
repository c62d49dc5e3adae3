"""The board's version as the browser holds it: crm.board's Watermark sealed, so a viewer
learns nothing from it (its event ids would show the whole company's activity) and cannot
forge one. Encrypt-then-MAC from the standard library: an HMAC-SHA256 keystream under a
random nonce, and an HMAC tag over nonce and ciphertext, keyed from the bot token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

from crm.board import Watermark

NONCE = 12
TAG = 16


def _key(token: str, use: bytes) -> bytes:
    return hmac.new(token.encode(), b"board-version:" + use, hashlib.sha256).digest()


def _stream(token: str, nonce: bytes, size: int) -> bytes:
    key, out = _key(token, b"stream"), b""
    for block in range(size // 32 + 1):
        out += hmac.new(key, nonce + block.to_bytes(4, "big"), hashlib.sha256).digest()
    return out[:size]


def _xor(data: bytes, token: str, nonce: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, _stream(token, nonce, len(data)), strict=True))


def _tag(token: str, sealed: bytes) -> bytes:
    return hmac.new(_key(token, b"tag"), sealed, hashlib.sha256).digest()[:TAG]


def seal(mark: Watermark, token: str) -> str:
    plain = json.dumps([mark.top, [list(g) for g in mark.gaps]], separators=(",", ":")).encode()
    nonce = os.urandom(NONCE)
    body = nonce + _xor(plain, token, nonce)
    return base64.urlsafe_b64encode(body + _tag(token, body)).decode().rstrip("=")


def unseal(text: str, token: str) -> Watermark | None:
    """The watermark sealed with this token, or None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    body, tag = raw[:-TAG], raw[-TAG:]
    if len(body) <= NONCE or not hmac.compare_digest(tag, _tag(token, body)):
        return None
    nonce, cipher = body[:NONCE], body[NONCE:]
    top, gaps = json.loads(_xor(cipher, token, nonce))
    return Watermark(int(top), tuple((int(g), int(t)) for g, t in gaps))
