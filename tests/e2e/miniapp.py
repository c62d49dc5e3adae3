"""Telegram's side of a Mini App in tests: initData signed as Telegram signs it (by the Bot API
stand-in, sandbox/botapi/webapp.py), and an HTTP client of the board's API on the App's own web
server."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp

from sandbox.botapi.webapp import signed_fields
from tests.fakes import User


def init_data(token: str, user: User, auth_date: datetime, *, tamper: bool = False) -> str:
    """Signed as the Bot API stand-in signs it; `tamper` changes the user after signing."""
    fields = signed_fields(token, user, auth_date)
    if tamper:
        fields["user"] = fields["user"].replace(str(user.id), str(user.id + 1))
    return urlencode(fields)


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
