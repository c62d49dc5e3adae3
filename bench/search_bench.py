"""Phone search benchmark: /find by a part of a number beside /find by the whole number.

    python -m bench.search_bench [--deals N] [--db sqlite|postgres|both] [--seconds S]

For each database: generate the store (bench.dataset: one contact and one +79… number per deal,
with its phone parts), then call crm.search.find_deals, one query at a time, for numbers of
random deals typed as: the whole number (the exact E.164 lookup /find had before issue 12), its
last 4 digits, 7 digits from its middle, and its operator code "+7 9xx" (4 digits shared by
about one number in a hundred: the widest part). Each as the admin (every deal) and as the
deal's own rep (his scope). The whole number and 7 digits must find the deal they were cut from
(4 digits match dozens of numbers, of which /find shows 10). Targets, median: ≤ 5 ms for a part
that picks out a few numbers; ≤ 20 ms for the operator code, which up to 1,000 newest matching
contacts are read for (crm/search.py caps it there) before the viewer's scope is applied.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.dataset import generate, scratch_store
from bench.measure import database_name, per_database, table, verdict
from crm.search import find_deals
from storage.db import store
from storage.models import ContactPhone, Deal, Employee

TARGET_MS = 5.0
WIDE_TARGET_MS = 20.0  # a part one number in a hundred shares
# (label, the query for a number's digits, whether the deal must be among the hits, target ms;
# no target: the figure before issue 12, for comparison)
QUERIES: tuple[tuple[str, Callable[[str], str], bool, float | None], ...] = (
    ("whole number (exact)", lambda d: f"+{d[0]} {d[1:4]} {d[4:7]}-{d[7:9]}-{d[9:]}", True, None),
    ("last 4 digits", lambda d: f"{d[-4:-2]}-{d[-2:]}", False, TARGET_MS),
    ("7 middle digits", lambda d: d[3:10], True, TARGET_MS),
    ("operator code", lambda d: f"+{d[0]} {d[1:4]}", False, WIDE_TARGET_MS),
)


@dataclass
class Figures:
    kind: str
    deals: int
    times: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    missed: int = 0


async def bench_search(kind: str, deals: int, seconds: float) -> Figures:
    figures = Figures(kind, deals)
    async with scratch_store(kind) as url:
        info = await generate(url, deals)
        async with store(url):
            admin = await Employee.get(id=info.admin)
            reps = {e.id: e for e in await Employee.filter(id__in=info.reps)}
            rng = random.Random(7)
            budget = seconds / (len(QUERIES) * 2)
            for label, typed, must_find, _target in QUERIES:
                for who in ("admin", "rep"):
                    spent, times = 0.0, list[float]()
                    while spent < budget or len(times) < 20:
                        deal = await Deal.get(id=rng.randint(1, info.deals))
                        owner = reps.get(deal.owner_id)  # type: ignore[attr-defined]
                        if owner is None:
                            continue  # a lead in the queue: no rep's yet
                        phone = await ContactPhone.get(contact_id=deal.contact_id)  # type: ignore[attr-defined]
                        query = typed(phone.e164.lstrip("+"))
                        start = time.perf_counter()
                        found = await find_deals(query, admin if who == "admin" else owner)
                        took = time.perf_counter() - start
                        spent += took
                        times.append(took * 1000)
                        if must_find and deal.id not in {d.id for d in found}:
                            figures.missed += 1
                    figures.times[(label, who)] = times
    return figures


def report(all_figures: Sequence[Figures]) -> list[str]:
    lines = []
    for f in all_figures:
        lines.append(f"{database_name(f.kind)}, {f.deals:,} deals, /find one query at a time:")
        targets = {label: target for label, _typed, _must, target in QUERIES}
        rows = [["query", "viewer", "runs", "median ms", "p95 ms", "target", ""]]
        for (label, who), times in f.times.items():
            median = statistics.median(times)
            p95 = statistics.quantiles(times, n=20)[-1]
            target = targets[label]
            rows.append([
                label, who, str(len(times)), f"{median:.2f}", f"{p95:.2f}",
                f"≤ {target:g} ms" if target else "(before)",
                verdict(median <= target) if target else "",
            ])
        lines += table(rows)
        lines.append(f"deals not found by a part of their own number: {f.missed}"
                     + ("" if f.missed == 0 else "  MISS"))
        lines.append("")
    return lines


async def main(argv: Sequence[str] | None = None) -> int:
    return await per_database(
        "python -m bench.search_bench", __doc__, argv, bench_search, report
    )


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
