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
from cli.common import crm_session
from config.settings import Settings
from crm.reports import Period

_TAGS = re.compile(r"</?b>")


async def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        kind = Kind(args.kind)
    except ValueError:
        print(f"nextstep: unknown report {args.kind!r}; one of: {', '.join(Kind)}", file=sys.stderr)
        return 2
    if args.days <= 0:
        print("nextstep: --days must be positive", file=sys.stderr)
        return 2
    async with crm_session(settings) as crm:
        now = crm.now()
        period = Period(now - timedelta(days=args.days), now, args.team)
        report = await charts.load(crm, kind, period)
        names = Names(crm.playbook, settings.locale)
        with speaking(create_i18n(settings.locale), settings.locale):
            if args.png:
                png = await charts.render_png(report, names)
                await asyncio.to_thread(Path(args.png).write_bytes, png)
            if args.csv:
                sys.stdout.write(charts.to_csv(report).decode("utf-8"))
            else:
                print(html.unescape(_TAGS.sub("", charts.summary(report, names))))
    return 0
