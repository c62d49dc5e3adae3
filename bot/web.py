"""The process's HTTP face: /healthz, Prometheus /metrics and, in webhook mode, the webhook.

/metrics is one prometheus-client registry per process: the process and Python collectors, and
sources (callables returning samples) that each part (bot, sender, clock, SIP listener, store)
adds, read from its live counters at scrape time, so the web server knows none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.asyncio import Redis

from bot.health import TELEGRAM, Outages, redis_reachable, store_reachable

log = logging.getLogger(__name__)

PREFIX = "nextstep_"


@dataclass(frozen=True)
class Sample:
    name: str  # without the nextstep_ prefix; a counter's ends in _total
    value: float
    help: str
    kind: Literal["counter", "gauge"] = "counter"


MetricSource = Callable[[], Iterable[Sample]]


class _SourceCollector:
    """A prometheus-client custom collector: the source's samples as they are at scrape time."""

    def __init__(self, source: MetricSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        for sample in self._source():
            family = GaugeMetricFamily if sample.kind == "gauge" else CounterMetricFamily
            yield family(PREFIX + sample.name, sample.help, value=sample.value)


class MetricsRegistry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # The process's own figures (memory, CPU, open files, GC, Python version).
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)

    def add(self, source: MetricSource) -> None:
        self.registry.register(_SourceCollector(source))


def build_web_app(
    metrics: MetricsRegistry, outages: Outages | None = None, redis: Redis | None = None
) -> web.Application:
    watched = outages or Outages()

    async def healthz(_: web.Request) -> web.Response:
        """Ready when the store (and the shared Redis) answers and Telegram was not found
        unreachable: a load balancer sends updates elsewhere meanwhile."""
        checks = {
            "store": await store_reachable(watched),
            "telegram": not watched.is_down(TELEGRAM),
        }
        if redis is not None:
            checks["redis"] = await redis_reachable(redis, watched)
        ready = all(checks.values())
        body: dict[str, object] = {"status": "ok" if ready else "fail"}
        body.update({name: "ok" if up else "unreachable" for name, up in checks.items()})
        body.update({key: report() for key, report in watched.reports.items()})
        return web.json_response(body, status=200 if ready else 503)

    async def prometheus(_: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    return app


class _WebhookHandler(SimpleRequestHandler):
    async def close(self) -> None:
        """Not the bot's session: aiohttp calls this at shutdown before the updates in flight
        finish (they would fail on a closed session); App.stop closes it after them."""


def add_webhook(
    app: web.Application, dispatcher: Dispatcher, bot: Bot, *, path: str, secret: str,
    **workflow_data: object,
) -> None:
    """Updates are answered after they are handled (handle_in_background=False): a 200 means
    handled, Telegram redelivers what failed, so nothing is lost; the dispatcher's dedup drops
    the repeats."""
    _WebhookHandler(
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
