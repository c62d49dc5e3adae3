"""The process's HTTP face: /healthz, Prometheus /metrics and, in webhook mode, the webhook.

Metrics come from a registry of sources (callables returning samples) so each part (sender,
clock, SIP listener) reports its own counters without the web server knowing them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.health import TELEGRAM, Outages, store_reachable

log = logging.getLogger(__name__)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Sample:
    name: str  # without the nextstep_ prefix
    value: float
    help: str
    kind: Literal["counter", "gauge"] = "counter"


MetricSource = Callable[[], Iterable[Sample]]


class MetricsRegistry:
    def __init__(self) -> None:
        self._sources: list[MetricSource] = []

    def add(self, source: MetricSource) -> None:
        self._sources.append(source)

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines: list[str] = []
        for source in self._sources:
            for sample in source():
                name = f"nextstep_{sample.name}"
                lines += [
                    f"# HELP {name} {sample.help}",
                    f"# TYPE {name} {sample.kind}",
                    f"{name} {sample.value:g}",
                ]
        return "\n".join(lines) + "\n"


def build_web_app(metrics: MetricsRegistry, outages: Outages | None = None) -> web.Application:
    watched = outages or Outages()

    async def healthz(_: web.Request) -> web.Response:
        """Ready when the store answers and Telegram was not found unreachable."""
        store = await store_reachable(watched)
        telegram = not watched.is_down(TELEGRAM)
        body = {
            "status": "ok" if store and telegram else "fail",
            "store": "ok" if store else "unreachable",
            "telegram": "ok" if telegram else "unreachable",
        }
        return web.json_response(body, status=200 if store and telegram else 503)

    async def prometheus(_: web.Request) -> web.Response:
        body = metrics.render().encode()
        return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TEXT})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    return app


def add_webhook(
    app: web.Application, dispatcher: Dispatcher, bot: Bot, *, path: str, secret: str,
    **workflow_data: object,
) -> None:
    """Updates are answered after they are handled (handle_in_background=False): Telegram
    redelivers what failed, so nothing is lost; the dispatcher's dedup drops the repeats."""
    SimpleRequestHandler(
        dispatcher, bot, secret_token=secret, handle_in_background=False, **workflow_data
    ).register(app, path=path)


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually listened on (settings may say :0 in tests)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("web server is not listening on TCP")
