"""`nextstep run`: the bot, the clock, the web server and the SIP listener until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from bot.app import App
from config.settings import Settings, check_bot_tokens

log = logging.getLogger(__name__)


async def main(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.bot_token:
        print(
            "nextstep: NEXTSTEP_BOT_TOKEN is not set (the token @BotFather gave the bot)",
            file=sys.stderr,
        )
        return 2
    check_bot_tokens(settings)
    app = App(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
        await stop.wait()
        log.info("stopping: finishing updates, pushes and call events in flight")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        await app.stop()
    return 0
