"""`nextstep calls` (recent calls for an admin) and `nextstep sip-listen` (the listener alone)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal

from cli.common import crm_session
from config.settings import Settings, check_bot_tokens, split_host_port
from crm.notices import Notice, Notifier
from crm.phones import normalize_phone
from storage.db import keep_created_databases
from storage.models import Call

log = logging.getLogger("nextstep.sip")


async def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "calls":
        async with crm_session(settings):
            return await _list_calls(args.last, as_json=args.json)
    return await _listen(settings)


async def _list_calls(last: int, *, as_json: bool) -> int:
    calls = await Call.all().order_by("-started_at").limit(last).select_related("agent")
    rows = [
        {
            "call_id": c.call_id, "started_at": c.started_at.isoformat(),
            "answered_at": c.answered_at.isoformat() if c.answered_at else None,
            "ended_at": c.ended_at.isoformat(), "direction": c.direction,
            "agent": c.agent.name if c.agent else c.agent_ext, "agent_ext": c.agent_ext,
            "caller": c.caller, "caller_e164": normalize_phone(c.caller),
            "callee": c.callee, "callee_e164": normalize_phone(c.callee),
            "remote": c.remote_e164 or c.remote,
            "disposition": c.disposition, "sip_code": c.sip_code, "talk_seconds": c.talk_seconds,
            "deal_id": c.deal_id,  # type: ignore[attr-defined]
        }
        for c in calls
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'started (UTC)':<17} {'dir':<7} {'agent':<12} {'remote':<16} {'outcome':<12} "
          f"{'code':>4} {'talk':>5}  deal")
    for r in rows:
        print(
            f"{r['started_at'][:16]:<17} {r['direction']:<7} {r['agent'] or '-'!s:<12} "
            f"{r['remote']:<16} {r['disposition']:<12} {r['sip_code'] or '-'!s:>4} "
            f"{r['talk_seconds']:>5}  {r['deal_id'] or '-'}"
        )
    return 0


class _LogNotifier:
    """Without a bot token the listener still records calls; what agents would be told is logged."""

    async def notify(self, notice: Notice) -> None:
        log.info("would tell employee %s: %s %s", notice.employee_id, notice.kind, notice.params)


async def _listen(settings: Settings) -> int:
    # The bot side (aiogram) and the listener load here: `nextstep calls` starts without them.
    from bot.assembly import build_bot_side, sip_samples
    from bot.i18n import create_i18n
    from bot.notifier import BotNotifier
    from bot.web import MetricsRegistry, bound_port, build_web_app, start_web
    from telephony.bridge import start_capture

    if not settings.sip_listen:
        print("nextstep: set NEXTSTEP_SIP_LISTEN=host:port to listen for SIP", flush=True)
        return 2
    check_bot_tokens(settings)
    async with crm_session(settings) as crm:
        side = build_bot_side(settings, settings.bot_token) if settings.bot_token else None
        notifier: Notifier = (
            BotNotifier(side.bot, side.sender, crm, create_i18n(settings.locale))
            if side else _LogNotifier()
        )
        listener = await start_capture(settings, crm, notifier)
        # /healthz and /metrics as `run` serves them, with the listener's counters.
        metrics = MetricsRegistry()
        metrics.add(lambda: sip_samples(listener))
        try:
            runner = await start_web(build_web_app(metrics), *split_host_port(settings.web_listen))
        except BaseException:
            await listener.close()
            raise
        keep_created_databases()  # started: what it records from here on stays
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # Said once a stop is handled: whoever waits for this line may stop us cleanly.
        log.info("listening for SIP on %s:%s, web on port %s", *listener.address,
                 bound_port(runner))
        await stop.wait()
        # Finish the calls already captured before letting go of the store and the bot.
        await runner.cleanup()
        await listener.close()
        if side is not None:
            await side.sender.drain()
            await side.bot.session.close()
        log.info("stopped: %s", listener.counters)
    return 0
