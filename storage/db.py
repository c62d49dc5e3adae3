"""Opening the store: Tortoise set-up, aerich migrations, SQLite tuning."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from aerich import Command
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.sqlite.client import SqliteClient

MIGRATIONS = Path(__file__).with_name("migrations")

# WAL with synchronous=NORMAL is durable across process crashes and 2-3x faster per commit;
# autocheckpoint is off because a checkpoint inside a commit is the SQLite p99 spike
# (measured: p99 of 16 concurrent presses 131 ms with it, 31 ms without): checkpoint_loop does
# it off the commit path instead. A 64 MiB page cache and memory-mapped reads keep a million-deal
# store's hot indexes in memory (the default cache is 2 MiB).
SQLITE_PRAGMAS = (
    "journal_mode=WAL&synchronous=NORMAL&wal_autocheckpoint=0&busy_timeout=5000"
    "&cache_size=-65536&mmap_size=268435456&temp_store=MEMORY"
)


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://") and ":memory:" not in url and "?" not in url:
        url = f"{url}?{SQLITE_PRAGMAS}"
    return url


def tortoise_config(db_url: str) -> dict[str, Any]:
    url = normalize_url(db_url)
    connection: str | dict[str, Any] = url
    if url.startswith("sqlite://"):
        # Tortoise's SQLite client, whose transactions open in one statement, not two
        connection = {**expand_db_url(url), "engine": "storage.sqlite_client"}
    elif url.startswith(("postgres://", "asyncpg://")):
        # Tortoise's asyncpg client, whose pool skips the reset round trip per statement
        connection = {**expand_db_url(url), "engine": "storage.pg_client"}
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": ["storage.models", "aerich.models"],
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def dialect(conn: BaseDBAsyncClient | None = None) -> str:
    """'sqlite' or 'postgres'."""
    conn = conn or connections.get("default")
    return str(conn.schema_generator.DIALECT)


# Long reads (reports, digests, /find) on a SQLite file get a connection of their own: the
# store's one connection runs every statement in turn, and a 300 ms report on it held up every
# rep's press behind it (1M deals: the digests at start made the webhook's p99 700 ms; /find by
# name scans the contacts). In WAL mode the second connection reads a snapshot beside the
# writer, in a thread of its own, and query_only makes sure it never writes. PostgreSQL's pool
# needs no such thing. It is not one of Tortoise's named connections, so transactions keep
# needing no connection name.
_reading: BaseDBAsyncClient | None = None


def reading_connection() -> BaseDBAsyncClient:
    """Where long read-only queries go: the reading connection, else the store's."""
    return _reading or connections.get("default")


def _open_reading(db_url: str) -> BaseDBAsyncClient | None:
    url = normalize_url(db_url)
    if not url.startswith("sqlite://") or ":memory:" in url:
        return None
    settings = expand_db_url(url)["credentials"]
    return SqliteClient(connection_name="reading", **settings, query_only="ON")


# Workers starting together each migrate (SPEC §8: any number of them on PostgreSQL). Unlocked,
# two of them both find a migration pending, both apply it, and one dies on "already exists".
# The lock is PostgreSQL's advisory lock under this fixed key, or on SQLite a file lock.
MIGRATION_LOCK_KEY = zlib.crc32(b"nextstep migrations")


@contextlib.asynccontextmanager
async def _migration_lock(db_url: str) -> AsyncIterator[None]:
    """Held by one process at a time, across the check for pending migrations and the upgrade."""
    config = expand_db_url(normalize_url(db_url))
    credentials = config["credentials"]
    if config["engine"] == "tortoise.backends.asyncpg":
        # A connection of its own (aerich runs on Tortoise's pool, whose connections come and
        # go) holding a transaction-scoped lock for as long as the migration runs: a session
        # lock would be taken and released on whichever server connection PgBouncer's
        # transaction mode lends each statement.
        conn = await asyncpg.connect(
            host=credentials["host"],
            port=credentials["port"],
            user=credentials["user"],
            password=credentials["password"],
            database=credentials["database"],
            ssl=credentials.get("ssl"),
            statement_cache_size=int(credentials.get("statement_cache_size", 100)),
        )
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
                yield
        finally:
            await conn.close()
    elif credentials["file_path"] == ":memory:":
        yield  # a database of one connection
    else:
        # SQLite holds no lock beyond a transaction, and aerich checks outside its transaction:
        # an exclusive lock on the folder that holds the database, released on close or process
        # exit. The folder, not a lock file beside the database, so nothing is left behind.
        path = _absolute(credentials["file_path"])
        folder = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            while True:
                try:
                    fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.05)  # polled: a blocking wait could not be cancelled
            _create_if_missing(path)
            yield
        finally:
            os.close(folder)


def _absolute(path: str) -> str:
    return os.path.abspath(path)  # may read the current folder: kept out of the async code


def _create_if_missing(path: str) -> None:
    """Under the migration lock: make a new SQLite database file and note it as ours.

    Made here, so a read-only folder is an OSError naming the file: the SQLite driver, failing
    to create it, left aerich waiting forever. An empty file is an empty database, and no
    connection has it open yet, so closing it frees no SQLite lock.
    """
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return
    _created.add(Path(path))


# SQLite databases this process created, until it keeps them: a command that fails to start
# removes them, so a failed start leaves no empty database behind.
_created: set[Path] = set()


def keep_created_databases() -> None:
    """The start succeeded: the databases it created stay, whatever happens later."""
    _created.clear()


def remove_created_databases() -> None:
    """After a failed start, with the store closed: remove the databases it created."""
    for path in _created:
        for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
            path.with_name(name).unlink(missing_ok=True)
    _created.clear()


async def migrate(db_url: str) -> list[str]:
    """Apply pending aerich migrations; returns the versions applied.

    Safe with several processes at once: the first applies them, the others wait and find none.
    """
    async with (
        _migration_lock(db_url),
        Command(tortoise_config(db_url), app="models", location=str(MIGRATIONS)) as command,
    ):
        await command.init()
        return await command.upgrade(run_in_transaction=True)


async def open_store(db_url: str, *, run_migrations: bool = True) -> None:
    if run_migrations:
        await migrate(db_url)
    await Tortoise.init(config=tortoise_config(db_url))
    global _reading
    _reading = _open_reading(db_url)  # connects on its first query


async def close_store() -> None:
    global _reading
    if _reading is not None:
        await _reading.close()
        _reading = None
    await Tortoise.close_connections()


def _checkpoint(path: str) -> None:
    # Its own short-lived connection, opened and closed in the worker thread: a cancelled loop
    # can then never close a connection a checkpoint is still running on.
    with (
        contextlib.suppress(sqlite3.Error),
        contextlib.closing(sqlite3.connect(path, timeout=1)) as conn,
    ):
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


async def checkpoint_loop(path: str, interval: float = 1.0) -> None:
    """SQLite only: fold the WAL into the database file between commits.

    It runs on a connection of its own in a worker thread: a PASSIVE checkpoint never blocks
    writers in WAL mode, but run on the store's one connection it would queue behind (and hold
    up) every transaction.
    """
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(_checkpoint, path)


@contextlib.asynccontextmanager
async def store(db_url: str) -> AsyncIterator[None]:
    """The store for the lifetime of a process: migrated, opened, checkpointed, closed."""
    await open_store(db_url)
    checkpoints = None
    conn = connections.get("default")
    if dialect(conn) == "sqlite" and conn.filename != ":memory:":  # type: ignore[attr-defined]
        checkpoints = asyncio.create_task(checkpoint_loop(conn.filename))  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if checkpoints:
            checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpoints
        await close_store()
