"""What every bench shares: a timed phase and its figures, the report's table and verdicts, and
the command line of a bench run per database."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Run:
    """One time-bounded phase: how many operations, how long each took."""

    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Milliseconds."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000

    def summary(self) -> str:
        return (
            f"{self.per_second:,.0f}/s p50 {self.percentile(50):.1f} ms"
            f" p99 {self.percentile(99):.1f} ms"
        )

    def line(self) -> str:
        return (
            f"{self.per_second:8,.0f} ops/s  p50 {self.percentile(50):6.1f} ms  "
            f"p99 {self.percentile(99):6.1f} ms  ({self.ops:,} ops, {self.failures} failed)"
        )


async def timed(
    seconds: float, concurrency: int, items: Iterator[Any], op: Callable[[Any], Awaitable[bool]]
) -> Run:
    """Run op over items with `concurrency` workers until the time is up or items run out."""
    run = Run()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        for item in items:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            ok = await op(item)
            run.latencies.append(time.perf_counter() - started)
            run.ops += 1
            run.failures += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


def verdict(ok: bool) -> str:
    """The mark of a target in every bench's report; a MISS makes the bench exit 1."""
    return "PASS" if ok else "MISS"


def database_name(kind: str) -> str:
    return "PostgreSQL" if kind == "postgres" else "SQLite"


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as left-aligned columns; the verdict, if any, last."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


async def per_database(
    prog: str,
    doc: str,
    argv: Sequence[str] | None,
    bench: Callable[[str, int, float], Coroutine[Any, Any, Any]],
    report: Callable[[list[Any]], list[str]],
) -> int:
    """The command line every per-database bench shares: run, print the targets, exit 1 on a
    miss so `python -m bench` reports it."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n")[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each phase")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every bench's options
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    # A task each: Tortoise keeps its set-up in a context variable, one store per context.
    figures: list[Any] = [
        await asyncio.create_task(bench(k, args.deals, args.seconds)) for k in kinds
    ]
    lines = report(figures)
    print("\n" + "\n".join(lines))
    return 1 if any(line.endswith("MISS") for line in lines) else 0
