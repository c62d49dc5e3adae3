"""Workers benchmark: the webhook bench through nginx with 1, 2 and 3 workers on PostgreSQL.

    python -m bench.workers_bench [--deals N] [--seconds S]

One 1,000,000-deal PostgreSQL store (bench.dataset), settled (bench.webhook_bench.settle); then,
one after the other on the same store, each with 16 reps of its own working their feed
(bench.webhook_bench's phases: at work, then flat out): one `nextstep run` without nginx, then
deploy/'s nginx (rendered by deploy/render-nginx) in front of 1, 2 and 3 workers; several workers
share Redis. Printed: each configuration's flat-out capacity (presses/s) and at-work p99 of the
outcome press, the bots' CPU per press. Targets: nginx in front of one worker loses no capacity
(>= 0.9 of the worker alone in the same run), and 3 workers hold the at-work p99 <= 50 ms.
SQLite is one process: this bench runs on PostgreSQL only (--db sqlite prints nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from bench.bot_process import BENCH_REDIS
from bench.dataset import generate, scratch_store
from bench.measure import per_database, table, verdict
from bench.webhook_bench import settle, webhook_phases
from bench.webhook_rig import REPS, WebhookRun
from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from storage.db import store

# (workers, through nginx): the first is the reference of the same run.
CONFIGS = ((1, False), (1, True), (2, True), (3, True))
P99_TARGET_MS = 50.0
NGINX_CAPACITY_SHARE = 0.9


@dataclass
class Measured:
    workers: int
    nginx: bool
    at_work: WebhookRun
    flat_out: WebhookRun

    @property
    def label(self) -> str:
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}" + (
            " behind nginx" if self.nginx else ", no nginx"
        )

    @property
    def capacity(self) -> float:
        return self.flat_out.presses / self.flat_out.seconds if self.flat_out.seconds else 0.0

    @property
    def p99(self) -> float:
        return self.at_work.series("last", closes=True).percentile(99)


async def bench_workers(kind: str, deals: int, seconds: float) -> list[Measured] | None:
    if kind != "postgres":
        return None
    measured = []
    async with scratch_store(kind) as url:
        info = await generate(url, deals, now=datetime.now(UTC).replace(microsecond=0))
        if len(info.reps) < REPS * len(CONFIGS):
            raise ValueError(f"the dataset has {len(info.reps)} reps, the bench needs "
                             f"{REPS * len(CONFIGS)}")
        crm = Crm(load_playbook(), FakeClock(info.now))
        store_url = f"{url}?minsize={REPS}&maxsize={REPS + 4}"
        async with store(store_url):
            await settle(kind, crm)
            for n, (workers, nginx) in enumerate(CONFIGS):
                redis = Redis.from_url(BENCH_REDIS)
                try:
                    await redis.flushdb()  # update ids start at 1 with every fake Bot API
                finally:
                    await redis.aclose()
                reps = info.reps[n * REPS : (n + 1) * REPS]
                at_work, flat_out = await webhook_phases(
                    store_url, crm.playbook, reps, seconds, seed=11 + n, workers=workers,
                    nginx=nginx,
                )
                m = Measured(workers, nginx, at_work, flat_out)
                print(f"{m.label}: flat out {m.capacity:,.0f} presses/s, at work p99 "
                      f"{m.p99:.1f} ms, {at_work.failures + flat_out.failures} failed",
                      flush=True)
                measured.append(m)
    return measured


def report(runs: Sequence[list[Measured] | None]) -> list[str]:
    rows = [("measure", "figure", "target", "")]
    for measured in runs:
        if not measured:
            continue
        alone = measured[0]
        for m in measured:
            cpu = 1000 * m.flat_out.cpu.bot / max(1, m.flat_out.presses)
            rows.append((f"{m.label}: flat out, capacity", f"{m.capacity:,.0f} presses/s, "
                         f"{cpu:.1f} ms CPU/press", "", ""))
            rows.append((f"{m.label}: at work, outcome press p99", f"{m.p99:.1f} ms", "", ""))
        behind = measured[1]
        share = behind.capacity / alone.capacity if alone.capacity else 0.0
        rows.append(("nginx in front of 1 worker / the worker alone, capacity", f"{share:.2f}",
                     f">= {NGINX_CAPACITY_SHARE}", verdict(share >= NGINX_CAPACITY_SHARE)))
        three = measured[-1]
        failed = sum(m.at_work.failures + m.flat_out.failures for m in measured)
        rows.append(("3 workers behind nginx: at-work p99, 0 failed", f"{three.p99:.1f} ms",
                     f"<= {P99_TARGET_MS:.0f} ms", verdict(three.p99 <= P99_TARGET_MS
                                                           and failed == 0)))
    return table(rows)


async def main(argv: Sequence[str] | None = None) -> int:
    return await per_database("python -m bench.workers_bench", __doc__, argv, bench_workers,
                              report)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
