"""`nextstep report [kind] --days N [--team T] [--csv] [--png FILE]`: the bot's reports in a shell.

Prints the caption as plain text (the CSV instead with --csv) and writes the chart with --png.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import sys
from datetime import timedelta
from pathlib import Path

from bot import charts
from bot.callbacks import Kind
from bot.charts import Names
from bot.i18n import create_i18n, speaking
from bot.report_csv import CsvNames, to_csv
from cli.common import crm_session
from cli.progress import busy
from config.settings import Settings
from crm.csvwrite import csv_format
from crm.reports import Period

_TAGS = re.compile(r"</?b>")


async def main(args: argparse.Namespace, settings: Settings) -> int:
    kind = Kind(args.kind)  # argparse checked the choice and that --days is positive
    async with crm_session(settings) as crm:
        now = crm.now()
        period = Period(now - timedelta(days=args.days), now, args.team)
        async with busy(f"{kind} report"):
            report = await charts.load(crm, kind, period)
        lang = args.locale or settings.locale
        names = Names(crm.playbook, lang)
        with speaking(create_i18n(lang), lang):
            if args.png:
                png = await charts.render_png(report, names)
                await asyncio.to_thread(Path(args.png).write_bytes, png)
            if args.csv:
                csv_names = CsvNames(crm.playbook, lang)
                sys.stdout.write(to_csv(report, csv_names, csv_format(lang), bom=False))
            else:
                print(html.unescape(_TAGS.sub("", charts.summary(report, names))))
    return 0
