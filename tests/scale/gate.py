"""The gate between the workers and the fake Bot API: an HTTP hop that can hold a worker's Bot
API requests (to kill it mid-update)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes import FakeBotAPI

Json = dict[str, Any]


@dataclass
class Hold:
    """Bot API requests matching `matches` wait here until released (or their worker dies)."""

    matches: Callable[[str, Json], bool]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    peer_ports: list[int] = field(default_factory=list)  # the client ports held requests came from


class Gate:
    """An HTTP hop that forwards every Bot API request to the fake, except held ones."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.holds: list[Hold] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Gate:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._client = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for hold in self.holds:
            hold.released.set()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def hold(self, matches: Callable[[str, Json], bool]) -> Hold:
        hold = Hold(matches)
        self.holds.append(hold)
        return hold

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._client is not None
        body = await request.read()
        method = request.path.rsplit("/", 1)[-1]
        params: Json = {}
        if request.content_type == "application/json" and body:
            with contextlib.suppress(ValueError):
                params = await request.json()
        elif body:  # aiogram posts forms: values as text
            params = {key: str(value) for key, value in (await request.post()).items()}
        for hold in self.holds:
            if not hold.released.is_set() and hold.matches(method, params):
                peer = request.transport.get_extra_info("peername") if request.transport else None
                if peer:
                    hold.peer_ports.append(int(peer[1]))
                hold.arrived.set()
                await hold.released.wait()
                if request.transport is None or request.transport.is_closing():
                    # Its worker died meanwhile: the request never reaches Telegram.
                    return web.Response(status=499)
        headers = {k: v for k, v in request.headers.items() if k.lower() in (
            "content-type",)}
        async with self._client.request(
            request.method, f"{self.api.base_url}{request.path_qs}", data=body, headers=headers
        ) as response:
            payload = await response.read()
            return web.Response(
                body=payload, status=response.status,
                headers={"Content-Type": response.headers.get("Content-Type", "application/json")},
            )
