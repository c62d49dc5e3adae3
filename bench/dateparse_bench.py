"""How long one typed time takes to read: every phrasing of tests/dateparse_phrasings.py.

Each phrasing is parsed ROUNDS times; its median is its figure. The target is < 1 ms per parse
for the slowest phrasing (issue 12: a typed time must not be felt in the press latency).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence

from bench.measure import table, verdict
from crm.dateparse import parse_when
from tests.dateparse_phrasings import AS_REPS_TYPE, ASKED_AGAIN, FAILED, NOW, PARSED

TARGET_MS = 1.0


def phrasings() -> list[str]:
    return [row[0] for table_ in (PARSED, AS_REPS_TYPE, ASKED_AGAIN, FAILED) for row in table_]


def median_ms(text: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        parse_when(text, NOW)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dateparse_bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=200, help="parses of each phrasing")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every bench's options
    figures = {text: median_ms(text, args.rounds) for text in phrasings()}
    slowest = max(figures, key=figures.__getitem__)
    worst = figures[slowest]
    mean = statistics.fmean(figures.values())
    ok = worst < TARGET_MS
    rows = [
        ("measure", "figure", "target", ""),
        (f"parse, mean of {len(figures)} phrasings' medians", f"{mean * 1000:.0f} µs", "", ""),
        (f"parse, slowest phrasing ({slowest!r})", f"{worst * 1000:.0f} µs",
         f"< {TARGET_MS:.0f} ms", verdict(ok)),
    ]
    print("\n".join(table(rows)), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
