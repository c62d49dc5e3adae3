"""A deployment on loopback, as deploy/ describes it: nginx (Debian's, the config rendered by
deploy/render-nginx) in front of `nextstep run` workers sharing a fresh PostgreSQL database and
a Redis of their own, optionally through PgBouncer in transaction mode; Telegram is the fake Bot
API behind a gate that can hold a worker's Bot API requests (to kill it mid-update).

Every process started here has a time bound and is stopped by its own PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from tests.e2e.harness import free_port
from tests.fakes import FakeBotAPI, WebhookDelivery

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "scale-test-webhook-secret"
WEBHOOK_PATH = "/telegram/webhook"
START_SECONDS = 90.0  # a worker: import, migrate, listen (3 at once on a busy 2-core machine)
STOP_SECONDS = 15.0
Json = dict[str, Any]


async def _wait_port(port: int, seconds: float, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"exited with {process.returncode} before listening")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.05)


async def stop_process(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM,
                       seconds: float = STOP_SECONDS) -> int:
    """Signal one process by its PID and wait for it; kill -9 if it outstays `seconds`."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            async with asyncio.timeout(seconds):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


# --- the gate between the workers and the fake Bot API -----------------------------------


@dataclass
class Hold:
    """Bot API requests matching `matches` wait here until released (or their worker dies)."""

    matches: Callable[[str, Json], bool]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    peer_ports: list[int] = field(default_factory=list)  # the client ports held requests came from


class Gate:
    """An HTTP hop that forwards every Bot API request to the fake, except held ones."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.holds: list[Hold] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Gate:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._client = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for hold in self.holds:
            hold.released.set()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def hold(self, matches: Callable[[str, Json], bool]) -> Hold:
        hold = Hold(matches)
        self.holds.append(hold)
        return hold

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._client is not None
        body = await request.read()
        method = request.path.rsplit("/", 1)[-1]
        params: Json = {}
        if request.content_type == "application/json" and body:
            with contextlib.suppress(ValueError):
                params = await request.json()
        elif body:  # aiogram posts forms: values as text
            params = {key: str(value) for key, value in (await request.post()).items()}
        for hold in self.holds:
            if not hold.released.is_set() and hold.matches(method, params):
                peer = request.transport.get_extra_info("peername") if request.transport else None
                if peer:
                    hold.peer_ports.append(int(peer[1]))
                hold.arrived.set()
                await hold.released.wait()
                if request.transport is None or request.transport.is_closing():
                    # Its worker died meanwhile: the request never reaches Telegram.
                    return web.Response(status=499)
        headers = {k: v for k, v in request.headers.items() if k.lower() in (
            "content-type",)}
        async with self._client.request(
            request.method, f"{self.api.base_url}{request.path_qs}", data=body, headers=headers
        ) as response:
            payload = await response.read()
            return web.Response(
                body=payload, status=response.status,
                headers={"Content-Type": response.headers.get("Content-Type", "application/json")},
            )


# --- Redis, PgBouncer, nginx ---------------------------------------------------------------


class OwnRedis:
    """redis-server on a free port, appending every write (as deploy/ recommends), so a restart
    keeps the reps' conversation state."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder),
            "--protected-mode", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        await _wait_port(self.port, 20, self.process)

    async def stop(self) -> None:
        if self.process is not None:
            await stop_process(self.process)


class PgBouncer:
    """Debian's pgbouncer in transaction mode on a free port, in front of the test database.
    It will not run as root: as root it is told to become nobody, so its files live in a folder
    nobody can read, not in pytest's private one."""

    def __init__(self, database: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="nextstep_pgbouncer_"))
        self.folder.chmod(0o755)
        self.port = free_port()
        self.database = database
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return (f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"
                "?statement_cache_size=0")

    async def start(self) -> None:
        ini = self.folder / "pgbouncer.ini"
        ini.write_text(
            f"[databases]\n{self.database} = host=127.0.0.1 port=5432 dbname={self.database}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            "auth_type = trust\n"
            f"auth_file = {self.folder / 'userlist.txt'}\n"
            "pool_mode = transaction\ndefault_pool_size = 10\nmax_client_conn = 200\n"
            "unix_socket_dir =\n"
            "ignore_startup_parameters = extra_float_digits,statement_timeout\n"
        )
        (self.folder / "userlist.txt").write_text('"postgres" ""\n')
        for path in (ini, self.folder / "userlist.txt"):
            path.chmod(0o644)
        as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.process = await asyncio.create_subprocess_exec(
            "/usr/sbin/pgbouncer", *as_user, str(ini),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        await _wait_port(self.port, 20, self.process)

    async def stop(self) -> None:
        if self.process is not None:
            await stop_process(self.process, signal.SIGINT)
        shutil.rmtree(self.folder, ignore_errors=True)


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


class Nginx:
    """nginx with deploy/'s site config, rendered by deploy/render-nginx from an env file."""

    def __init__(self, folder: Path, worker_ports: list[int], static_root: Path) -> None:
        self.folder = folder
        self.worker_ports = worker_ports
        self.static_root = static_root
        self.https_port = free_port()
        self.local_port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def local(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    async def start(self) -> None:
        cert, key = await asyncio.to_thread(_certificate, self.folder)
        env_file = self.folder / "nextstep.env"
        env_file.write_text(
            f'NEXTSTEP_WORKERS="{" ".join(map(str, self.worker_ports))}"\n'
            "NEXTSTEP_SERVER_NAME=127.0.0.1\n"
            f"NEXTSTEP_HTTPS_LISTEN=127.0.0.1:{self.https_port}\n"
            f"NEXTSTEP_LOCAL_LISTEN=127.0.0.1:{self.local_port}\n"
            f"NEXTSTEP_TLS_CERT={cert}\nNEXTSTEP_TLS_KEY={key}\n"
            f"NEXTSTEP_WEBHOOK_PATH={WEBHOOK_PATH}\nNEXTSTEP_STATIC_ROOT={self.static_root}\n"
        )
        site = (await asyncio.to_thread(
            subprocess.run, [str(ROOT / "deploy" / "render-nginx"), str(env_file)],
            check=True, capture_output=True, text=True, timeout=30,
        )).stdout
        (self.folder / "site.conf").write_text(site)
        temp = self.folder / "temp"
        temp.mkdir(exist_ok=True)
        paths = " ".join(
            f"{kind}_temp_path {temp}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                           "uwsgi", "scgi")
        )
        (self.folder / "nginx.conf").write_text(
            f"worker_processes 1;\nerror_log {self.folder}/error.log;\nevents {{}}\n"
            f"http {{\n include /etc/nginx/mime.types;\n access_log off;\n {paths}\n"
            f" include {self.folder}/site.conf;\n}}\n"
        )
        self.process = await asyncio.create_subprocess_exec(
            "/usr/sbin/nginx", "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
            "-g", f"daemon off; pid {self.folder}/nginx.pid;",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        await _wait_port(self.local_port, 20, self.process)

    async def stop(self) -> None:
        if self.process is not None:
            await stop_process(self.process)


# --- the workers ----------------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    port: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def metric(base: str, name: str) -> float | None:
    """A worker's /metrics figure, None if it does not answer."""
    try:
        async with aiohttp.ClientSession() as http, http.get(
            f"{base}/metrics", timeout=aiohttp.ClientTimeout(total=5)
        ) as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return None
    found = re.search(rf"^nextstep_{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def health(url: str) -> int:
    try:
        async with aiohttp.ClientSession() as http, http.get(
            url, timeout=aiohttp.ClientTimeout(total=5), ssl=False
        ) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


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
async def pg_database() -> AsyncIterator[str]:
    name = f"nextstep_scale_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def pg_admin(sql: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def cluster(
    folder: Path, *, workers: int = 3, pgbouncer: bool = False, env: dict[str, str] | None = None,
    before_workers: Callable[[str], Any] | None = None,
) -> AsyncIterator[Cluster]:
    """The deployment, up: migrated by the one-shot, then the workers (all at once), then nginx.
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
                await asyncio.gather(*(running.start_worker(w) for w in running.workers))
                await running.nginx.start()
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
