"""Funnel and rep reports on a big store.

`python -m bench.reports_bench [--db sqlite|postgres|both] [--deals N] [--runs N]`

For each database: generate the store (bench.dataset, 1,000,000 deals by default), then time
crm.reports.funnel and crm.reports.reps over the last 90 days, for all teams and for one team,
median of --runs. The baseline in the same run is the naive way: the same figures through the
ORM, loading the period's events/deals into Python and counting there. Targets: ≤ 1 s on
PostgreSQL, ≤ 2 s on SQLite per report.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import cast

from bench.dataset import DatasetInfo, generate, scratch_store
from bench.measure import verdict
from config.playbook import load_playbook
from crm import reports
from crm.clock import FakeClock
from crm.context import Crm
from storage.db import close_store, open_store
from storage.models import Call, Deal, EventKind, TimelineEvent

TARGETS = {"postgres": 1.0, "sqlite": 2.0}


async def naive_funnel(period: reports.Period) -> dict[str, tuple[int, int]]:
    """The funnel as one would write it with the ORM: every entry event into Python."""
    query = TimelineEvent.filter(
        kind__in=[EventKind.CREATED, EventKind.STAGE], at__gte=period.start, at__lt=period.end
    )
    if period.team:
        query = query.filter(deal__team=period.team)
    entered: dict[str, dict[int, int]] = defaultdict(dict)
    for deal_id, data, amount in await query.values_list("deal_id", "data", "deal__amount"):
        entered[str(data.get("to") or data.get("stage"))][deal_id] = amount
    return {stage: (len(d), sum(d.values())) for stage, d in entered.items()}


async def naive_reps(period: reports.Period) -> dict[int, tuple[int, int, int]]:
    """Calls, outcome presses and won deals per rep, counted in Python from ORM rows."""
    span = {"started_at__gte": period.start, "started_at__lt": period.end}
    # values_list(flat=True) gives bare ids; Tortoise's stubs type every row as a tuple.
    calls: Counter[int] = Counter(
        cast(list[int], await Call.filter(**span).values_list("agent_id", flat=True))
    )
    presses: Counter[int] = Counter(
        cast(
            list[int],
            await TimelineEvent.filter(
                kind=EventKind.OUTCOME, at__gte=period.start, at__lt=period.end
            ).values_list("actor_id", flat=True),
        )
    )
    won: Counter[int] = Counter(
        cast(
            list[int],
            await Deal.filter(
                status="won", closed_at__gte=period.start, closed_at__lt=period.end
            ).values_list("owner_id", flat=True),
        )
    )
    people: set[int] = {*calls, *presses, *won}
    return {k: (calls[k], presses[k], won[k]) for k in people}


async def _median(func: Callable[[], Awaitable[object]], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def bench(kind: str, deals: int, runs: int) -> bool:
    """Print each report's time next to the naive baseline; True if every target was met."""
    async with scratch_store(kind) as url:
        info: DatasetInfo = await generate(url, deals)
        await open_store(url, run_migrations=False)
        try:
            crm = Crm(load_playbook(), FakeClock(info.now))
            met = True
            team = info.rep_teams[0]
            print(
                f"\n{kind}: {info.deals:,} deals, {info.events:,} events, {info.calls:,} calls; "
                f"period 90 days; median of {runs}"
            )
            print(
                f"{'report':<22}{'SQL aggregate':>15}{'naive ORM':>12}{'speed-up':>10}{'target':>9}"
            )
            for scope in (None, team):
                period = reports.Period(info.now - timedelta(days=90), info.now, scope)
                label = "all teams" if scope is None else f"team {scope}"
                for name, fast, slow in (
                    (
                        "funnel",
                        lambda p=period: reports.funnel(crm, p),
                        lambda p=period: naive_funnel(p),
                    ),
                    ("reps", lambda p=period: reports.reps(crm, p), lambda p=period: naive_reps(p)),
                ):
                    fast_s, rows = await _median(fast, runs)
                    slow_s, _ = await _median(slow, 1)
                    met &= fast_s <= TARGETS[kind]
                    print(
                        f"{name + ', ' + label:<22}{fast_s * 1000:>12.0f} ms"
                        f"{slow_s * 1000:>9.0f} ms{slow_s / fast_s:>9.1f}x"
                        f"{TARGETS[kind]:>6.1f} s {verdict(fast_s <= TARGETS[kind])}"
                    )
                    if name == "funnel" and scope is None:
                        entered = {r.stage: r.entered for r in rows}  # type: ignore[attr-defined]
                        print(f"{'':<22}entered: {entered}")
        finally:
            await close_store()
    return met


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports_bench", description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every bench's options
    kinds = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    met = True
    for kind in kinds:
        # A task each: Tortoise keeps its set-up in a context variable, one store per context.
        met &= await asyncio.create_task(bench(kind, args.deals, args.runs))
    return 0 if met else 1  # a missed target fails, so `python -m bench` reports it


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
