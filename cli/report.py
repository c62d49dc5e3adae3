"""`nextstep report [kind] --days N [--team T] [--by FIELD] [--csv] [--png FILE]`: the bot's
reports in a shell.

Prints the caption as plain text (the CSV instead with --csv) and writes the chart with --png.
--by gives the funnel or the sources once per option of a choice field, each under its label.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import html
import re
import sys
from datetime import timedelta
from pathlib import Path

from bot import charts
from bot.callbacks import Kind
from bot.chart_by_field import GROUPABLE
from bot.charts import Names
from bot.i18n import create_i18n, speaking
from bot.report_csv import CsvNames, to_csv
from cli.common import crm_session
from cli.progress import busy
from config.settings import Settings
from crm.context import Crm
from crm.csvwrite import csv_format
from crm.reports import Period

_TAGS = re.compile(r"</?b>")


async def main(args: argparse.Namespace, settings: Settings) -> int:
    kind = Kind(args.kind)  # argparse checked the choice and that --days is positive
    if args.by and kind not in GROUPABLE:
        print(f"--by works with: {', '.join(GROUPABLE)}", file=sys.stderr)
        return 2
    async with crm_session(settings) as crm:
        now = crm.now()
        period = Period(now - timedelta(days=args.days), now, args.team)
        if args.by:
            return await _by_field(crm, kind, period, args, settings)
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


async def _by_field(
    crm: Crm, kind: Kind, period: Period, args: argparse.Namespace, settings: Settings
) -> int:
    spec = crm.playbook.field(args.by)
    if spec is None or not spec.choices:
        choices = [f.key for f in crm.playbook.fields if f.choices]
        print(f"--by {args.by}: not a choice field of the playbook; choice fields: "
              f"{', '.join(choices) or 'none'}", file=sys.stderr)
        return 2
    lang = args.locale or settings.locale
    names = Names(crm.playbook, lang)
    with speaking(create_i18n(lang), lang):
        for option, label in spec.options.items():
            only = dataclasses.replace(period, field=(spec.key, spec.of, option))
            async with busy(f"{kind} report, {option}"):
                report = await charts.load(crm, kind, only)
            print(f"== {spec.label.get(lang)}: {label.get(lang)} ==")
            print(html.unescape(_TAGS.sub("", charts.summary(report, names))))
    return 0
