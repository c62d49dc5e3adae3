"""Telegram's side of a Mini App in tests: initData signed as Telegram signs it (the HMAC of
https://core.telegram.org/bots/webapps#validating-data-received-via-the-web-app), and an HTTP
client of the board's API on the App's own web server."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.fakes import User


def init_data(token: str, user: User, auth_date: datetime, *, tamper: bool = False) -> str:
    fields = {
        "auth_date": str(int(auth_date.timestamp())),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(
            {"id": user.id, "first_name": user.first_name, "language_code": user.language_code},
            separators=(",", ":"),
        ),
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    signed = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if tamper:
        fields["user"] = fields["user"].replace(str(user.id), str(user.id + 1))
    return urlencode({**fields, "hash": signed})


class BoardClient:
    def __init__(self, port: int, init: str | None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.headers = {"Authorization": f"tma {init}"} if init is not None else {}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.request(
                method, self.base + path, json=body, headers=self.headers
            ) as response:
                return response.status, await response.read()

    async def json(self, method: str, path: str, body: Any = None) -> Any:
        status, raw = await self.call(method, path, body)
        assert status == 200, (status, raw)
        return json.loads(raw)
