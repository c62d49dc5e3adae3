"""How long the light commands take to start, as a user runs them, on an empty store.

`python -m bench.cli_bench [--runs N]`

Each of `nextstep employees`, `invite`, `calls` and `export` runs as a fresh process on an
empty, migrated SQLite database, --runs times; the figure is the median wall time, the target
under 1 s. Beside them, in the same run: the interpreter alone (`python -c pass`) and
`python -c "import aiogram"`, the price a light command must not pay.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.measure import verdict

TARGET_SECONDS = 1.0
ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "employees": ["employees"],
    "invite": ["invite", "--role", "rep"],
    "calls": ["calls"],
    "export": ["export", "deals"],
}
BASELINES = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import aiogram'": ["-c", "import aiogram"],
}


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *argv], env=env, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def median_seconds(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    return statistics.median(timed(argv, env, cwd) for _ in range(runs))


def bench(runs: int) -> list[tuple[str, str, str, str]]:
    with tempfile.TemporaryDirectory(prefix="cli_bench") as folder:
        cwd = Path(folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
        env.update(
            PYTHONPATH=str(ROOT), NEXTSTEP_DATABASE_URL=f"sqlite://{cwd / 'empty.sqlite3'}",
        )
        timed(["-m", "cli", "migrate"], env, cwd)  # the schema, no rows
        rows = [("measure", "median", "target", "")]
        for name, argv in BASELINES.items():
            rows.append((f"baseline: {name}", f"{median_seconds(argv, env, cwd, runs):.2f} s",
                         "", ""))
        for name, args in COMMANDS.items():
            figure = median_seconds(["-m", "cli", *args], env, cwd, runs)
            rows.append((f"nextstep {name}", f"{figure:.2f} s", f"< {TARGET_SECONDS:.0f} s",
                         verdict(figure < TARGET_SECONDS)))
    return rows


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="starts of each command")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every bench's options
    rows = await asyncio.to_thread(bench, args.runs)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 1 if any(row[3] == "MISS" for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
