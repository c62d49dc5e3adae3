"""CPU time of processes, to say where a bench's time went: the bot, this process, the store."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of the processes so far (Linux /proc; a tiny read each). A process
    gone meanwhile counts nothing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_database(store_url: str) -> str | None:
    """The database a PostgreSQL store URL names; None for SQLite."""
    parts = urlsplit(store_url)
    return parts.path.lstrip("/") if parts.scheme.startswith("postgres") else None


def postgres_pids(database: str) -> list[int]:
    """The PostgreSQL server's processes that work for `database`: its backends and autovacuum
    workers, and the server-wide ones (checkpointer, WAL writer...), not other databases'
    backends (tests or another bench on the same server)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        for_one = "(" in title or "autovacuum worker" in title  # a client's, or a database's
        if not for_one or f" {database} " in f"{title} ":
            pids.append(int(entry.name))
    return pids


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds over a phase: the bot's processes, this one, and PostgreSQL's."""

    bot: float = 0.0
    bench: float = 0.0
    store: float = 0.0


class CpuMeter:
    """Started before a phase, read after it. `database`: the PostgreSQL database whose
    processes count as the store's (listed at the start: a backend the phase opened counts for
    nothing, which pooled connections make rare); None on SQLite, whose store is in-process."""

    def __init__(self, bot_pids: Sequence[int] = (), *, database: str | None = None) -> None:
        self.bot_pids = list(bot_pids)
        self.store_pids = postgres_pids(database) if database else []
        self._start = self._now()

    def _now(self) -> CpuSplit:
        return CpuSplit(
            cpu_seconds(self.bot_pids), time.process_time(), cpu_seconds(self.store_pids)
        )

    def read(self) -> CpuSplit:
        now = self._now()
        return CpuSplit(
            now.bot - self._start.bot, now.bench - self._start.bench, now.store - self._start.store
        )
