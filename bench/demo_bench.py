"""How long `nextstep demo` takes to show its page on a fresh machine.

`python -m bench.demo_bench [--runs N]`

Each run starts `nextstep demo --reset` as a fresh process on a new SQLite file (so it seeds the
team and its history), waits for its one line and for its URL to answer, and stops it by its PID
with SIGTERM; the figure is the median wall time to the answer, the target under 10 s. Beside it,
in the same run: `python -c "import bot.app"`, the product's own import, which any start pays.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bench.measure import table, verdict

TARGET_SECONDS = 10.0
BOUND_SECONDS = 120.0  # a run that has not answered by then is stopped and counted as this
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_once(env: dict[str, str], folder: Path) -> float:
    port = _free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "demo", "--reset", "--db", str(folder / "demo.sqlite3"),
         "--listen", f"127.0.0.1:{port}"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the demo's one line, when it is up
        if not line.startswith("nextstep demo: "):
            return BOUND_SECONDS
        with urllib.request.urlopen(line.split(": ", 1)[1].strip(), timeout=BOUND_SECONDS):
            return time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench(runs: int) -> list[tuple[str, str, str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory(prefix="demo_bench") as name:
        folder = Path(name)
        imports = []
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import bot.app"], env=env, check=True)
            imports.append(time.perf_counter() - began)
        figure = statistics.median(start_once(env, folder) for _ in range(runs))
    return [
        ("measure", "median", "target", ""),
        ("baseline: python -c 'import bot.app'", f"{statistics.median(imports):.2f} s", "", ""),
        ("nextstep demo --reset: page answers", f"{figure:.2f} s", f"< {TARGET_SECONDS:.0f} s",
         verdict(figure < TARGET_SECONDS)),
    ]


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.demo_bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="starts of the demo")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` passes every bench's options
    rows = await asyncio.to_thread(bench, args.runs)
    print("\n".join(table(rows)))
    return 1 if any(row[3] == "MISS" for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
