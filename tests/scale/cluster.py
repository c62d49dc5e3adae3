"""A deployment on loopback, as deploy/ describes it: nginx (nginx.py) in front of `nextstep run`
workers (worker.py) sharing a fresh PostgreSQL database and a Redis of their own, optionally
through PgBouncer in transaction mode (stores.py); Telegram is the fake Bot API behind a gate
that can hold a worker's Bot API requests (gate.py).

Every process started here has a time bound and is stopped by its own PID (processes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.harness import free_port
from tests.fakes import FakeBotAPI, WebhookDelivery
from tests.scale.gate import Gate, Json
from tests.scale.nginx import WEBHOOK_PATH, Nginx
from tests.scale.processes import ROOT, stop_process
from tests.scale.stores import OwnRedis, PgBouncer, pg_database
from tests.scale.worker import Worker, health, metric

SECRET = "scale-test-webhook-secret"
START_SECONDS = 90.0  # a worker: import, migrate, listen (3 at once on a busy 2-core machine)


class Cluster:
    def __init__(self, folder: Path, api: FakeBotAPI, gate: Gate, db_url: str, redis: OwnRedis,
                 workers: int, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.api = api
        self.gate = gate
        self.db_url = db_url
        self.redis = redis
        self.extra_env = env or {}
        self.workers = [
            Worker(f"w{n}", free_port(), folder / f"w{n}.log") for n in range(workers)
        ]
        # Outside pytest's private tmp folder: nginx's workers drop root, as on a server.
        static = Path(tempfile.mkdtemp(prefix="nextstep_static_"))
        static.chmod(0o755)
        self.nginx = Nginx(folder, [w.port for w in self.workers], static)

    @property
    def webhook(self) -> str:
        """Where Telegram delivers: nginx (its loopback listener; TLS is checked separately)."""
        return f"{self.nginx.local}{WEBHOOK_PATH}"

    def _env(self, worker: Worker) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTSTEP_")}
        env.update(
            PYTHONPATH=str(ROOT), NEXTSTEP_BOT_TOKEN=self.api.token,
            NEXTSTEP_TELEGRAM_API=self.gate.base_url, NEXTSTEP_DATABASE_URL=self.db_url,
            NEXTSTEP_REDIS_URL=self.redis.url, NEXTSTEP_WEB_LISTEN=f"127.0.0.1:{worker.port}",
            NEXTSTEP_WEBHOOK_URL=f"https://127.0.0.1:{self.nginx.https_port}{WEBHOOK_PATH}",
            NEXTSTEP_WEBHOOK_SECRET=SECRET, NEXTSTEP_BOT_USERNAME=self.api.me["username"],
        )
        env.update(self.extra_env)
        return env

    async def migrate(self) -> None:
        """The one-shot of deploy/systemd/nextstep-migrate.service."""
        env = self._env(self.workers[0])
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "migrate", cwd=self.folder, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(START_SECONDS):
                out, _ = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, out.decode()[-2000:]

    async def start_worker(self, worker: Worker) -> None:
        with worker.log_path.open("ab") as log:
            worker.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cli", "run", cwd=self.folder, env=self._env(worker),
                stdout=log, stderr=log,
            )
        async with asyncio.timeout(START_SECONDS):
            while await health(f"{worker.base}/healthz") != 200:
                assert worker.alive, f"{worker.name} exited: {worker.log()[-3000:]}"
                await asyncio.sleep(0.1)

    async def kill(self, worker: Worker, sig: int = signal.SIGKILL) -> int:
        assert worker.process is not None
        return await stop_process(worker.process, sig)

    async def leader(self, seconds: float = 15.0) -> Worker:
        """The worker that says it leads (waiting up to `seconds` for one)."""
        async with asyncio.timeout(seconds):
            while True:
                for worker in self.workers:
                    if worker.alive and await metric(worker.base, "leader") == 1:
                        return worker
                await asyncio.sleep(0.1)

    async def deliver(self, update: Json, *, seconds: float = 60.0) -> list[WebhookDelivery]:
        """POST an update to nginx as Telegram does: again after anything but a 200 (Telegram
        retries with back-off; a short pause here), until a 200. Every attempt, in order."""
        attempts: list[WebhookDelivery] = []
        async with asyncio.timeout(seconds):
            while True:
                try:
                    delivery = await self.api.post_update(
                        self.webhook, update, secret_token=SECRET, http_timeout=30
                    )
                except (aiohttp.ClientError, TimeoutError):
                    await asyncio.sleep(0.5)
                    continue
                attempts.append(delivery)
                if delivery.status == 200:
                    return attempts
                await asyncio.sleep(0.5)

    async def until_health(self, status: int, seconds: float = 30.0) -> None:
        """Until every live worker's /healthz answers `status`."""
        async with asyncio.timeout(seconds):
            # Other processes' state: nothing to await but their HTTP endpoints.
            while any([await health(f"{w.base}/healthz") != status  # noqa: ASYNC110
                       for w in self.workers if w.alive]):
                await asyncio.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.log()[-2500:]}" for w in self.workers)


@contextlib.asynccontextmanager
async def cluster(
    folder: Path, *, workers: int = 3, pgbouncer: bool = False, env: dict[str, str] | None = None,
    before_workers: Callable[[str], Any] | None = None,
) -> AsyncIterator[Cluster]:
    """The deployment, up: migrated by the one-shot, then the workers and nginx (all at once).
    `before_workers(direct_url)` may seed the store in between."""
    async with (
        pg_database() as database, FakeBotAPI() as api, Gate(api) as gate,
    ):
        direct = f"postgres://postgres@127.0.0.1:5432/{database}"
        bouncer = PgBouncer(database) if pgbouncer else None
        redis = OwnRedis(folder)
        await redis.start()
        started = time.monotonic()
        try:
            if bouncer is not None:
                await bouncer.start()
            running = Cluster(folder, api, gate, bouncer.url if bouncer else direct, redis,
                              workers, env)
            await running.migrate()
            if before_workers is not None:
                await before_workers(direct)
            try:
                # nginx needs nothing from the workers to start: it starts while they do.
                await asyncio.gather(running.nginx.start(),
                                     *(running.start_worker(w) for w in running.workers))
                print(f"cluster up in {time.monotonic() - started:.1f} s", flush=True)
                yield running
            finally:
                await running.nginx.stop()
                shutil.rmtree(running.nginx.static_root, ignore_errors=True)
                codes = await asyncio.gather(*(
                    stop_process(w.process) for w in running.workers if w.process is not None
                ))
                print(running.logs() if any(c not in (0, -9) for c in codes) else "", flush=True)
        finally:
            await redis.stop()
            if bouncer is not None:
                await bouncer.stop()
