"""Store fixtures: every store test runs on SQLite and PostgreSQL (own database, dropped after)."""

from __future__ import annotations

import asyncio
import contextvars
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from config.playbook import load_playbook
from crm.clock import FakeClock
from crm.context import Crm
from storage.db import close_store, migrate, open_store

# Checks PostgreSQL, Redis, kamailio and sipp once, before the tests that need them run.
pytest_plugins = ["tests.services"]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Wednesday 25 Nov 2026, 10:00 in Moscow: inside working hours, so nothing snaps by surprise.
T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_admin_sync(sql: str) -> None:
    # Session set-up may be reached from inside a test's running loop: use a loop of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _pg_admin(sql)).result()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"nextstep_test_{uuid.uuid4().hex[:12]}"
    _pg_admin_sync(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    _pg_admin_sync(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _wipe() -> None:
    """Every table emptied and its ids restarting at 1, as TRUNCATE … RESTART IDENTITY would.
    DELETE, since a test leaves a few rows: TRUNCATE makes each of the tables anew on disk
    (0.15-0.5 s a test); foreign keys are not checked meanwhile (replica role): every row goes."""
    conn = connections.get("default")
    tables = [m._meta.db_table for m in Tortoise.apps["models"].values() if m.__name__ != "Aerich"]
    if conn.schema_generator.DIALECT == "postgres":
        listed = ", ".join(f"'{table}'::regclass" for table in tables)
        await conn.execute_script(
            "SET session_replication_role = replica;"
            + "".join(f"DELETE FROM {table};" for table in tables)
            + "SET session_replication_role = DEFAULT;"
            # The sequences of the tables' serial and identity columns.
            "SELECT setval(d.objid::regclass, s.seqstart, false) FROM pg_depend d"
            " JOIN pg_sequence s ON s.seqrelid = d.objid WHERE d.classid = 'pg_class'::regclass"
            f" AND d.refobjid IN ({listed}) AND d.deptype IN ('a', 'i');"
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the first SQLite store test migrates a store from scratch, for every other one to
    start from a copy: the migrations take longer than most of those tests."""
    return tmp_path_factory.mktemp("sqlite_template") / "store.sqlite3"


async def _migrated_sqlite(template: Path, path: Path) -> str:
    """A migrated SQLite store at `path`: a copy of `template`, migrated first if it is not yet
    (migrate() closes it, so the file alone holds it all)."""
    if not await asyncio.to_thread(template.exists):
        # In a context of its own: Tortoise keeps its current context in a context variable,
        # and the migration's, closed, would be the one the test's open_store finds.
        await asyncio.create_task(migrate(f"sqlite://{template}"), context=contextvars.Context())
    await asyncio.to_thread(shutil.copyfile, template, path)
    return f"sqlite://{path}"


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        url = await _migrated_sqlite(template, tmp_path / "store.sqlite3")
    else:
        url = request.getfixturevalue("pg_url")
    await open_store(url)
    yield url
    await _wipe()
    await close_store()
    # Tortoise caches insert SQL per connection name; a process normally keeps one dialect,
    # these tests switch between two under the name "default".
    EXECUTOR_CACHE.clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def crm(db_url: str, clock: FakeClock) -> Crm:
    return Crm(load_playbook(), clock)
