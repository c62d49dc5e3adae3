"""`python -m bench`: every benchmark module present, one after the other, same options."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys

MODULES = (
    "bench.store_bench",
    "bench.search_bench",
    "bench.fields_bench",
    "bench.telephony_bench",
    "bench.reports_bench",
    "bench.webhook_bench",
    "bench.dateparse_bench",
    "bench.cli_bench",
    "bench.board_bench",
    "bench.demo_bench",
)


async def run_all(argv: list[str]) -> int:
    worst = 0
    for name in MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        print(f"== {name}", flush=True)
        module = importlib.import_module(name)
        # Each in a task of its own: Tortoise keeps its set-up in a context variable.
        worst = max(worst, await asyncio.create_task(module.main(argv)))
    return worst


if __name__ == "__main__":
    raise SystemExit(asyncio.run(run_all(sys.argv[1:])))
