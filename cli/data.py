"""`nextstep import FILE.csv [--duplicates merge|skip]` and `nextstep export [deals|contacts]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from cli.common import crm_session
from config.settings import Settings
from crm.importer import Duplicates, Progress, UnreadableFile, export_csv, import_csv

BAR_WIDTH = 30


def progress_bar(stream: TextIO) -> Progress:
    """A one-line bar on stderr, redrawn in place; stdout keeps only the summary."""

    def show(done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        stream.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


async def main(args: argparse.Namespace, settings: Settings) -> int:
    async with crm_session(settings) as crm:
        if args.command == "import":
            path = Path(args.file)
            if not await asyncio.to_thread(path.is_file):
                print(f"nextstep: no such file {path}", file=sys.stderr)
                return 2
            try:
                report = await import_csv(
                    crm, path, duplicates=Duplicates(args.duplicates),
                    progress=progress_bar(sys.stderr),
                )
            except UnreadableFile as exc:
                print(f"nextstep: {path}: {exc}", file=sys.stderr)
                return 2
            print(
                f"imported {report.imported}, merged {report.merged}, skipped {report.skipped}, "
                f"bad {len(report.bad)}; deals {report.deals}"
            )
            if report.ignored_columns:
                print("ignored columns: " + ", ".join(report.ignored_columns))
            for bad in report.bad:
                print(f"  line {bad.line}: {bad.reason}")
            return 0
        return await _export(args.what, args.output)


async def _export(what: str, output: str) -> int:
    if output == "-":
        async for part in export_csv(what):
            sys.stdout.write(part)
        sys.stdout.flush()
        return 0
    out = await asyncio.to_thread(open, output, "w", encoding="utf-8", newline="")
    try:
        async for part in export_csv(what):
            await asyncio.to_thread(out.write, part)
    finally:
        await asyncio.to_thread(out.close)
    return 0
