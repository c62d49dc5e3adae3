"""`nextstep demo`: the real product (App: bot, scheduler, web server, SIP listener) against the
sandbox's Bot API stand-in and simulated phone, on its own SQLite file, shown in a web chat.

The demo only configures Settings and drives the stand-in: no product code knows it is a demo.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.app import App
from cli.main import FAST_CLOCK as FAST
from config.playbook import load_playbook
from config.settings import Settings, split_host_port
from crm.clock import ScaledClock
from crm.schedule import into_working_hours
from sandbox.botapi import BotAPI
from sandbox.seed import is_seeded, seed
from sandbox.web.server import ChatServer
from storage.db import store

DEMO_TOKEN = "700000001:DemoSandboxTokenNotForTelegram00000"
DEMO_BOT = "nextstep_demo_bot"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database(name: str, *, reset: bool) -> Path:
    """The demo's SQLite file; `reset` deletes it (with its WAL) to start over."""
    path = Path(name).resolve()
    if not path.parent.is_dir():
        raise ValueError(f"the folder {path.parent} does not exist")
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


async def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        host, port = split_host_port(args.listen)
    except ValueError as exc:
        print(f"nextstep: --listen {args.listen!r}: {exc}", file=sys.stderr)
        return 2
    try:
        path = _database(args.db, reset=args.reset)
    except ValueError as exc:
        print(f"nextstep: --db {args.db}: {exc}", file=sys.stderr)
        return 2
    playbook = load_playbook(settings.playbook)
    # The demo's day starts in working hours, so the bot pushes cards whatever the hour here.
    start = into_working_hours(datetime.now(UTC), playbook.working_hours)
    clock = ScaledClock(start, FAST if args.fast else 1.0)
    if not args.verbose:  # the page is the demo's output; warnings and errors still show
        logging.getLogger().setLevel(logging.WARNING)
    async with BotAPI(DEMO_TOKEN, bot_username=DEMO_BOT) as api:
        api.me["first_name"] = "NextStep"
        web_port = _free_port(socket.SOCK_STREAM)
        demo = settings.model_copy(update={
            "bot_token": api.token, "client_bot_token": "", "telegram_api": api.base_url,
            "database_url": f"sqlite://{path}", "webhook_url": "", "redis_url": "",
            "web_listen": f"127.0.0.1:{web_port}",
            # The board opens from the page as Telegram would open it, over http on loopback
            # (set unvalidated: Telegram itself asks for https).
            "web_app_url": f"http://127.0.0.1:{web_port}/board/",
            "sip_listen": f"127.0.0.1:{_free_port(socket.SOCK_DGRAM)}",
            "sip_allow": ["127.0.0.0/8"], "hep_auth_key": "", "hep_capture_ids": [],
            "bot_username": DEMO_BOT,
        })
        app = App(demo, clock, manage_store=False)
        chat = ChatServer(api, app, clock)
        try:
            await chat.start(host, port)  # first: a taken --listen fails before a file is made
        except OSError as exc:
            print(f"nextstep: --listen {args.listen}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        try:
            async with store(demo.database_url):
                chat.use_store()
                if not await is_seeded():
                    await seed(playbook, clock.now(), api.me["id"])
                await app.start()
                try:
                    print(f"nextstep demo: {chat.url}", flush=True)
                    await _until_stopped()
                finally:
                    await app.stop()
        finally:
            await chat.stop()
    return 0


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
