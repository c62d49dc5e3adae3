"""`nextstep import FILE.csv [--duplicates merge|skip] [--owner O] [--team T]` and
`nextstep export [deals|contacts] [--locale ru|en]`."""

from __future__ import annotations

import argparse
import asyncio
import gettext
import sys
from pathlib import Path

from bot.catalogs import translations
from bot.names import CsvNames
from cli.common import crm_session
from cli.progress import progress_bar
from config.settings import Settings
from crm.context import Crm
from crm.csvread import UnreadableFile
from crm.csvwrite import csv_format
from crm.exporter import export_csv
from crm.importer import Duplicates, UnknownAssignee, assignee, import_csv


async def main(args: argparse.Namespace, settings: Settings) -> int:
    async with crm_session(settings) as crm:
        if args.command == "import":
            path = Path(args.file)
            if not await asyncio.to_thread(path.is_file):
                print(f"nextstep: no such file {path}", file=sys.stderr)
                return 2
            try:
                owner, team = await assignee(args.owner, args.team)
            except UnknownAssignee as exc:
                print(f"nextstep: {exc}", file=sys.stderr)
                return 2
            try:
                report = await import_csv(
                    crm, path, duplicates=Duplicates(args.duplicates), owner=owner, team=team,
                    progress=progress_bar(),
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
            for field in report.bad_fields:
                print(f"  line {field.line}: {field.reason}, the row went in without it")
            return 0
        return await _export(crm, args.what, args.output, args.locale or settings.locale)


async def _export(crm: Crm, what: str, output: str, lang: str) -> int:
    # The bot's catalogue through plain gettext: aiogram's i18n would cost seconds to load.
    texts = translations(lang) or gettext.NullTranslations()
    labels, fmt = CsvNames(crm.playbook, lang, texts.gettext), csv_format(lang)
    if output == "-":
        async for part in export_csv(crm, what, labels, fmt, bom=False, progress=progress_bar()):
            sys.stdout.write(part)
        sys.stdout.flush()
        return 0
    out = await asyncio.to_thread(open, output, "w", encoding="utf-8", newline="")
    try:
        async for part in export_csv(crm, what, labels, fmt, progress=progress_bar()):
            await asyncio.to_thread(out.write, part)
    finally:
        await asyncio.to_thread(out.close)
    return 0
