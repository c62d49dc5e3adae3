"""CPU time of processes, to say where a bench's time went: the bot, this process, the store."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


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


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine: its backends, checkpointer, WAL
    writer and autovacuum, all of which a press's statements make work for."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return pids


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds over a phase: the bot's processes, this one, and PostgreSQL's."""

    bot: float = 0.0
    bench: float = 0.0
    store: float = 0.0


class CpuMeter:
    """Started before a phase, read after it (PostgreSQL's processes are listed at the start:
    a backend that the phase opened is counted by none, which pooled connections make rare)."""

    def __init__(self, bot_pids: Sequence[int] = (), *, postgres: bool = False) -> None:
        self.bot_pids = list(bot_pids)
        self.store_pids = postgres_pids() if postgres else []
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
