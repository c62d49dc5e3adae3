"""The workers' stores: a fresh PostgreSQL database, a Redis of their own, and Debian's PgBouncer in
transaction mode in front of the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from tests.e2e.harness import free_port
from tests.scale.processes import stop_process, wait_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


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
        await wait_port(self.port, 20, self.process)

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
        await wait_port(self.port, 20, self.process)

    async def stop(self) -> None:
        if self.process is not None:
            await stop_process(self.process, signal.SIGINT)
        shutil.rmtree(self.folder, ignore_errors=True)


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
