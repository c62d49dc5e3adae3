"""Workers starting together on a fresh database each migrate it: all of them start, and every
migration is applied once (SPEC §8: any number of worker processes on PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from storage.db import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
WORKERS = 3
# Each worker imports, then migrates every database given at the same start lines as the others:
# imports alone take longer than a migration and would otherwise run them one after another.
# Several rounds because on SQLite the start-up before the check for pending migrations varies
# by more than a migration takes: a single round overlaps, and failed before the lock, only now
# and then.
ROUND_SECONDS = 0.5
WORKER = """
import asyncio, sys, time
from storage.db import migrate
start, urls = float(sys.argv[1]), sys.argv[2:]
for url in urls:
    time.sleep(max(0.0, start - time.time()))
    asyncio.run(migrate(url))
    start += ROUND_SECONDS
""".replace("ROUND_SECONDS", str(ROUND_SECONDS))


def _versions() -> list[str]:
    return sorted(p.name for p in (MIGRATIONS / "models").glob("[0-9]*.py"))


async def _migrate_at_once(*urls: str) -> None:
    start_line = str(time.time() + 3)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            start_line,
            *urls,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(WORKERS)
    ]
    try:
        async with asyncio.timeout(60):
            results = await asyncio.gather(*(p.communicate() for p in processes))
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err.decode()[-2000:]


@pytest.fixture
async def fresh_pg_url() -> AsyncIterator[str]:
    name = f"nextstep_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.postgres
async def test_workers_migrating_a_fresh_postgres_database_at_once_all_start(
    fresh_pg_url: str,
) -> None:
    await _migrate_at_once(fresh_pg_url)
    conn = await asyncpg.connect(fresh_pg_url, timeout=10)
    try:
        rows = await conn.fetch("SELECT version FROM aerich WHERE app = 'models'")
    finally:
        await conn.close()
    assert sorted(row["version"] for row in rows) == _versions()


async def test_workers_migrating_a_fresh_sqlite_file_at_once_all_start(tmp_path: Path) -> None:
    paths = [tmp_path / f"store{n}.sqlite3" for n in range(8)]
    await _migrate_at_once(*(f"sqlite://{path}" for path in paths))
    for path in paths:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            rows = conn.execute("SELECT version FROM aerich WHERE app = 'models'").fetchall()
        assert sorted(version for (version,) in rows) == _versions(), path
