"""Progress of long work for every command: drawn on a terminal's stderr, nothing in a script.

stdout keeps only a command's output (a summary, a CSV), so a pipe or a cron job reads the same
text whether or not a person watches; the drawing goes to stderr, and only if it is a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the light commands (migrate, employees) need not load the importer
    from crm.importer import Progress

BAR_WIDTH = 30
CLEAR_LINE = "\r\x1b[K"


def _terminal(stream: TextIO | None) -> TextIO | None:
    stream = stream or sys.stderr
    return stream if stream.isatty() else None


def progress_bar(stream: TextIO | None = None) -> Progress | None:
    """For work of a known size: a one-line bar redrawn in place; None off a terminal."""
    out = _terminal(stream)
    if out is None:
        return None

    def show(done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        out.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}")
        if done >= total:
            out.write("\n")
        out.flush()

    return show


@contextlib.asynccontextmanager
async def busy(
    what: str, stream: TextIO | None = None, *, every: float = 1.0
) -> AsyncIterator[None]:
    """For work of unknown size (migrations, a report's queries): `what… 3 s` on a terminal,
    from the first `every` seconds on, so quick work draws nothing; a drawn line is wiped after."""
    out = _terminal(stream)
    if out is None:
        yield
        return
    started = time.monotonic()
    drawn = False

    async def tick() -> None:
        nonlocal drawn
        while True:
            await asyncio.sleep(every)
            out.write(f"\r{what}… {time.monotonic() - started:.0f} s")
            out.flush()
            drawn = True

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        if drawn:
            out.write(CLEAR_LINE)
            out.flush()
