"""`nextstep run` in webhook mode for the webhook benches: one process or several behind nginx."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bench.webhook_rig import REPS
from sandbox.botapi import BotAPI
from tests.e2e.harness import free_port
from tests.scale.cluster import Nginx
from tests.scale.processes import wait_port

WEBHOOK_PATH = "/telegram/webhook"
ROOT = Path(__file__).resolve().parents[1]
BOT_START_SECONDS = 60.0
BOT_STOP_SECONDS = 30.0
WEBHOOK_SECRET = "nextstep-webhook-bench"
# Several workers share FSM state and update de-dup in Redis (database 14: apart from tests').
BENCH_REDIS = "redis://127.0.0.1:6379/14"


@contextlib.asynccontextmanager
async def running_bot(
    api: BotAPI, store_url: str, *, workers: int = 1, nginx: bool = False
) -> AsyncIterator[tuple[list[int], str]]:
    """`nextstep run` in webhook mode, `workers` processes of their own (behind deploy/'s nginx
    if `nginx`); yields (their pids, the webhook url).

    Processes of their own, as in production: the fake Bot API and the reps (Telegram's side)
    do not take their CPU time and garbage collections out of the bot's."""
    ports = [free_port() for _ in range(workers)]
    with tempfile.TemporaryDirectory(prefix="nextstep_webhook_bench_") as folder:
        proxy = Nginx(Path(folder), ports, Path(folder)) if nginx else None
        front = f"{proxy.local}" if proxy else f"http://127.0.0.1:{ports[0]}"
        if not nginx and workers > 1:
            raise ValueError("several workers need nginx in front")
        processes = []
        logs = [Path(folder) / f"bot{n}.log" for n in range(workers)]
        try:
            for port, log_path in zip(ports, logs, strict=True):
                env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
                env.update(
                    PYTHONPATH=str(ROOT),
                    NEXTSTEP_BOT_TOKEN=api.token,
                    NEXTSTEP_TELEGRAM_API=api.base_url,
                    NEXTSTEP_DATABASE_URL=store_url,
                    NEXTSTEP_WEB_LISTEN=f"127.0.0.1:{port}",
                    NEXTSTEP_WEBHOOK_URL=f"{front}{WEBHOOK_PATH}",
                    NEXTSTEP_WEBHOOK_SECRET=WEBHOOK_SECRET,
                    NEXTSTEP_BOT_USERNAME=api.me["username"],
                )
                if workers > 1:
                    env["NEXTSTEP_REDIS_URL"] = BENCH_REDIS
                with log_path.open("wb") as log:
                    processes.append(await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "cli", "run", cwd=folder, env=env, stdout=log,
                        stderr=log,
                    ))
            await api.wait_for("setWebhook", timeout=BOT_START_SECONDS)
            # The menus of every employee with a Telegram id go out in the background at start.
            await api.wait_count("setMyCommands", 1 + REPS, timeout=BOT_START_SECONDS)
            for port, process in zip(ports, processes, strict=True):
                await wait_port(port, BOT_START_SECONDS, process)
            if proxy is not None:
                await proxy.start()
            yield [p.pid for p in processes], f"{front}{WEBHOOK_PATH}"
            for process in processes:
                process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(BOT_STOP_SECONDS):
                codes = [await process.wait() for process in processes]
            if any(codes):
                raise RuntimeError(f"nextstep run exited with {codes}")
        except BaseException:
            for log_path in logs:
                if log_path.exists():
                    print(log_path.read_text(errors="replace")[-3000:], flush=True)
            raise
        finally:
            if proxy is not None:
                await proxy.stop()
            for process in processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()

