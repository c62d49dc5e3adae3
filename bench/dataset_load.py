"""Loading the dataset's rows fast with the raw drivers: PostgreSQL COPY on four connections,
SQLite executemany in a thread; secondary indexes dropped for the load and recreated from their
saved definitions, the derived rows inserted in between."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from bench.dataset_derived import Dialect, derived_inserts
from bench.dataset_rows import (
    CONTACT_COLUMNS,
    DEAL_COLUMNS,
    PART_COLUMNS,
    PHONE_COLUMNS,
    Rows,
)

BULK_TABLES = (
    "contact", "contact_phone", "phone_part", "deal", "task", "timeline_event", "call",
    "deal_field", "contact_field",
)


def pg_dsn(db_url: str) -> str:
    return "postgresql://" + db_url.split("://", 1)[1].split("?", 1)[0]


async def load_postgres(db_url: str, rows: Rows, now: datetime) -> None:
    dsn = pg_dsn(db_url)
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        for conn in conns:
            await conn.execute(
                "SET session_replication_role = replica; "
                "SET synchronous_commit = off; SET maintenance_work_mem = '256MB'"
            )
        main = conns[0]
        indexes = await main.fetch(
            """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS ddl
               FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
               WHERE c.relname = ANY($1::text[])
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)""",
            list(BULK_TABLES),
        )
        await main.execute("".join(f"DROP INDEX {r['name']};" for r in indexes))
        pending: asyncio.Future[Any] | None = None
        for contacts, phones, parts, deals in rows.chunks():
            if pending is not None:
                await pending
            pending = asyncio.gather(
                conns[0].copy_records_to_table(
                    "contact", records=contacts, columns=CONTACT_COLUMNS
                ),
                conns[1].copy_records_to_table(
                    "contact_phone", records=phones, columns=PHONE_COLUMNS
                ),
                conns[2].copy_records_to_table("deal", records=deals, columns=DEAL_COLUMNS),
                conns[3].copy_records_to_table("phone_part", records=parts, columns=PART_COLUMNS),
            )
            await asyncio.sleep(0)  # let the copies start while the next chunk is built
        if pending is not None:
            await pending
        for table in ("contact", "contact_phone", "phone_part", "deal"):
            await main.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        for sql in derived_inserts(Dialect(True, now)):
            await main.execute(sql)
        # Two cores: build the indexes two at a time.
        ddl = [r["ddl"] for r in indexes]
        await asyncio.gather(*(_run_all(conn, ddl[k::2]) for k, conn in enumerate(conns[:2])))
        await main.execute("ANALYZE")
    finally:
        for conn in conns:
            await conn.close()


async def _run_all(conn: asyncpg.Connection, statements: Sequence[str]) -> None:
    for sql in statements:
        await conn.execute(sql)


def load_sqlite(path: str, rows: Rows, now: datetime) -> None:
    """Runs in a worker thread: sqlite3 releases the GIL while it works."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({','.join('?' * len(BULK_TABLES))})",
            BULK_TABLES,
        ).fetchall()
        # The load needs no journal; WAL is switched back on before anyone else opens the file.
        db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;"
        )
        db.execute("BEGIN")
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')

        def insert(table: str, columns: Sequence[str], records: list[tuple[Any, ...]]) -> None:
            marks = ",".join("?" * len(columns))
            db.executemany(f'INSERT INTO "{table}" ({",".join(columns)}) VALUES ({marks})', records)

        for contacts, phones, parts, deals in rows.chunks():
            insert("contact", CONTACT_COLUMNS, contacts)
            insert("contact_phone", PHONE_COLUMNS, phones)
            insert("phone_part", PART_COLUMNS, parts)
            insert("deal", DEAL_COLUMNS, deals)
        for sql in derived_inserts(Dialect(False, now)):
            db.execute(sql)
        for _, ddl in indexes:
            db.execute(ddl)
        db.execute("COMMIT")
        db.executescript("PRAGMA journal_mode = WAL;")
    finally:
        db.close()
